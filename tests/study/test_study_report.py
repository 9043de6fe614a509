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
from impact.study.runner import StudyRun, run_study
from impact.study.verdict import verdict_parts


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


# ------------------------------------------------------------- the verdict
def _fake_results(evil: str) -> dict[str, object]:
    return {
        "study": {"title": "t", "file": "s.toml"},
        "verdict": {
            "conclusion": "unreliable",
            "headline": f"Unreliable: {evil} diverges",
            "reasons": [f"Pre-trends: {evil} rejects", "Power: not assessed."],
        },
        "analyses": {
            evil: {
                "estimator": "did",
                "estimate": -1.0,
                "ci": [-2.0, 0.5],
                "pvalue": 0.2,
            }
        },
        "notes": {evil: {"role": "estimate", "label": evil}},
        "checks": [],
        "robustness": [],
        "figures": {},
        "versions": {},
    }


def test_verdict_opens_both_reports_escaped(tmp_path: Path) -> None:
    from impact.study.report import render_html, render_markdown

    results = _fake_results(EVIL)
    page = render_html(results, tmp_path)
    assert "<script" not in page.lower() and "&lt;script&gt;" in page
    body = page[page.index("<body>") :]
    # title, then the verdict, then the side-by-side table, then everything else
    order = [
        body.index("<h1>"),
        body.index("id='verdict'"),
        body.index("Verdict: Unreliable"),
        body.index("Analyses side by side"),
        body.index("<h2>Analyses</h2>"),
    ]
    assert order == sorted(order)
    assert body.index("id='verdict'") < body.index("<h2>", body.index("</section>"))
    md = render_markdown(results)
    outside = re.sub(r"```text\n.*?\n```", "", md, flags=re.S)
    assert "<script" not in outside and "&lt;script&gt;" in outside
    lines = [x for x in md.splitlines() if x.startswith("## ")]
    assert lines[:2] == ["## Verdict: Unreliable", "## Analyses side by side"]
    assert "- Pre-trends: &lt;script&gt;" in md


def test_report_without_a_verdict_still_renders(tmp_path: Path) -> None:
    from impact.study.report import render_html, render_markdown

    results = _fake_results("u1")
    del results["verdict"]
    assert "id='verdict'" not in render_html(results, tmp_path)
    assert "## Verdict" not in render_markdown(results)


def test_flagship_report_opens_with_its_verdict(flagship_run: StudyRun) -> None:
    md = (flagship_run.out / "report.md").read_text()
    v = flagship_run.results["verdict"]
    first_h2 = next(x for x in md.splitlines() if x.startswith("## "))
    assert first_h2.startswith("## Verdict: ")
    assert v["conclusion"] != "supported"
    # every reason is listed in the report, in order
    positions = [md.index(r.split(":")[0] + ":") for r in v["reasons"]]
    assert positions == sorted(positions)


def test_flagship_verdict_is_at_the_top_and_visible_in_chromium(
    flagship_run: StudyRun, tmp_path: Path
) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary (apt-get install chromium to run this check)")
    width, height = 1200, 900
    page = (flagship_run.out / "report.html").read_text()
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
    ]
    # 1. a real screenshot of the first screen of the report
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            *flags,
            f"--user-data-dir={tmp_path / 'p1'}",
            f"--screenshot={shot}",
            (flagship_run.out / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if not shot.exists():
        pytest.skip("chromium could not take a screenshot here")
    # 2. the same page with a probe: where the verdict box is and what covers it
    probe = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = probe.replace(
        "</body>",
        "<script>window.addEventListener('load',function(){"
        "var v=document.getElementById('verdict'),r=v.getBoundingClientRect(),"
        "s=getComputedStyle(v),hs=document.querySelectorAll('h2'),first=null;"
        "for(var i=0;i<hs.length;i++){if(!v.contains(hs[i])){first=hs[i];break;}}"
        "var hit=document.elementFromPoint(r.left+r.width/2,r.top+r.height/2);"
        "var d=document.createElement('p');d.id='probe';d.textContent=JSON.stringify("
        "{top:r.top,bottom:r.bottom,left:r.left,width:r.width,display:s.display,"
        "visibility:s.visibility,opacity:s.opacity,border:s.borderLeftColor,"
        "inside:v.contains(hit),before:first?first.getBoundingClientRect().top>=r.bottom:true,"
        "text:v.innerText.slice(0,200)});document.body.appendChild(d);});</script></body>",
    )
    target = tmp_path / "probe.html"
    target.write_text(probe)
    proc = subprocess.run(
        [
            *flags,
            f"--user-data-dir={tmp_path / 'p2'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            target.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = re.search(r'id="probe">(\{.*?\})</p>', proc.stdout)
    assert found, proc.stderr[-2000:]
    import html
    import json

    info = json.loads(html.unescape(found.group(1)))
    v = flagship_run.results["verdict"]
    # at the top: inside the first screen, above every other section
    assert 0 <= info["top"] < 250 and info["bottom"] < height, info
    assert info["before"], "the verdict must come before the other sections"
    # visible: displayed, opaque, not covered, showing the conclusion
    assert info["display"] != "none" and info["visibility"] == "visible"
    assert float(info["opacity"]) == 1.0 and info["inside"]
    assert info["text"].startswith("Verdict: ")
    # the screenshot shows the verdict box's coloured border where the page puts it
    import matplotlib.image as mpimg
    import numpy as np

    img = mpimg.imread(shot)[:, :, :3]
    rgb = np.array([int(x) for x in re.findall(r"\d+", info["border"])[:3]]) / 255
    left = int(info["left"]) + 3
    band = img[int(info["top"]) + 5 : int(info["bottom"]) - 5, left : left + 4]
    assert band.size and np.allclose(band, rgb, atol=0.03), (
        f"verdict border {info['border']} not found in the screenshot"
    )
    # and it names the study's conclusion
    parts = verdict_parts(v)
    assert parts is not None and info["text"].startswith(f"Verdict: {parts[1]}")
