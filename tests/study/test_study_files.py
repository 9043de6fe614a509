"""Every shipped study file validates: schema, estimators, keyword arguments, columns.

Running the studies themselves is `.ci/run`'s job (`impact run studies/*.toml`); this
fast check catches a broken study file in the default test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from impact.study.data import load_data
from impact.study.runner import check_columns, validate_study
from impact.study.spec import load_spec, resolve_data_path

STUDIES = Path(__file__).resolve().parents[2] / "studies"
FILES = sorted(STUDIES.glob("*.toml"))


def test_studies_exist() -> None:
    names = {p.stem for p in FILES}
    assert {
        "mpdta",
        "castle",
        "card_krueger",
        "lalonde",
        "innovation_synthetic",
        "random_adoption_synthetic",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_study_file_validates(
    path: Path, reference_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPACT_REFERENCE_DATA", str(reference_data))
    spec, _ = load_spec(path)
    validate_study(spec, str(path))
    prepared = load_data(spec.data, resolve_data_path(spec, path))
    check_columns(spec, prepared, str(path))
    assert spec.study.source, "every study cites its source"
    for check in spec.check:
        assert check.source, f"{path.name}: every check cites its source"


@pytest.mark.parametrize("name", ["innovation_synthetic", "random_adoption_synthetic"])
def test_synthetic_truth_matches_its_data(name: str) -> None:
    # the synthetic studies' checks compare CIs with the simulation's true mean effect;
    # recompute it from the data so a regenerated panel cannot drift from the study file
    import pandas as pd

    path = STUDIES / f"{name}.toml"
    spec, _ = load_spec(path)
    frame = pd.read_csv(resolve_data_path(spec, path))
    post = frame[(frame["cohort"] > 0) & (frame["year"] >= frame["cohort"])]
    truth = round(float(post["true_effect"].mean()), 2)
    expected = {c.expected for c in spec.check if c.source and "truth" in c.source}
    assert expected == {truth}
