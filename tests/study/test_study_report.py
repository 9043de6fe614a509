"""Reports: escaping of data and spec text, self-contained HTML, images load in Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from study_fakes import fake_did
from study_helpers import BASE_SPEC, EVIL, write_study

from impact.study import runner
from impact.study.runner import run_study


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # one run shared by the module's tests (the fake estimator is registered for it only)
    folder = tmp_path_factory.mktemp("report")
    text = BASE_SPEC.replace(
        'title = "Fake study"', 'title = "Study <img src=x onerror=alert(2)>"'
    )
    text = text.replace('name = "placebo"', 'name = "placebo <b>bold</b>"')
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(runner.ESTIMATORS, "fake", fake_did)
        run_study(write_study(folder, text), out=folder / "out")
    yield folder / "out"


def test_html_escapes_unit_names_and_spec_text(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text()
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<b>bold</b>" not in page


def test_markdown_escapes_outside_code_blocks(report_dir: Path) -> None:
    md = (report_dir / "report.md").read_text()
    outside = re.sub(r"```text\n.*?\n```", "", md, flags=re.S)
    assert "<script" not in outside and "<img" not in outside
    assert "&lt;script&gt;" in outside
    assert "![Specification curve](figures/spec_curve_main.png)" in md


def test_html_is_self_contained(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text()
    srcs = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(srcs) == 3
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_every_image_loads_in_headless_chromium(
    report_dir: Path, tmp_path: Path
) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary (apt-get install chromium to run this check)")
    page = (report_dir / "report.html").read_text()
    n_imgs = len(re.findall(r"<img\b", page))
    # a copy of the report with a checker appended (the report itself has no script and a
    # CSP forbidding one): after load, count images that decoded to a non-empty bitmap
    probe = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = probe.replace(
        "</body>",
        "<script>window.addEventListener('load',function(){var im=document.images,ok=0;"
        "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)ok++;}"
        "var d=document.createElement('p');d.id='imgcheck';"
        "d.textContent='IMAGES '+im.length+' LOADED '+ok;document.body.appendChild(d);});"
        "</script></body>",
    )
    target = tmp_path / "probe.html"
    target.write_text(probe)
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
            target.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = re.search(r'id="imgcheck">IMAGES (\d+) LOADED (\d+)<', proc.stdout)
    assert found, proc.stderr[-2000:]
    assert int(found.group(1)) == n_imgs == 3
    assert int(found.group(2)) == n_imgs
