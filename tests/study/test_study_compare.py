"""impact.compare: every number in the side-by-side table is the analysis's own.

Brute force: each cell is recomputed here from the fitted result's attributes (or, for
a study, from results.json) and compared with the table, for fitted results and for the
flagship study run.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from study_fakes import fake_dict

import impact
from impact.errors import SpecError
from impact.study.runner import StudyRun


@pytest.fixture(scope="module")
def fitted() -> dict[str, object]:
    df = impact.data.load_synthetic("random_staggered_panel.csv")
    kw = {"outcome": "cla_rate", "unit": "la_code", "time": "year"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twfe = impact.did(df, cohort="cohort", method="twfe", **kw)
        cs = impact.did(df, cohort="cohort", method="cs", control="never", **kw)
        never = df[df["cohort"] == 0]
        power = impact.power.simulate(
            never,
            treatment_time=2018,
            n_treated=[10, 20],
            effect=[0.0, -0.05, -0.1, -0.2],
            n_sims=40,
            seed=3,
            method="twfe",
            **kw,
        )
    return {"twfe": twfe, "cs": cs, "power": power}


def _close(a: object, b: float | None) -> bool:
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None or (isinstance(a, float) and math.isnan(a))
    return isinstance(a, (int, float, np.number)) and float(a) == pytest.approx(b)


def test_numbers_are_the_results_own(fitted: dict[str, object]) -> None:
    table = impact.compare(fitted)
    frame = table.to_frame()
    for name in ["twfe", "cs"]:
        r = fitted[name]
        row = frame[frame["analysis"] == name].iloc[0]
        assert row["role"] == "estimate"
        assert row["estimate"] == pytest.approx(r.estimate)  # type: ignore[attr-defined]
        assert row["se"] == pytest.approx(r.se)  # type: ignore[attr-defined]
        assert row["ci_low"] == pytest.approx(r.ci[0])  # type: ignore[attr-defined]
        assert row["ci_high"] == pytest.approx(r.ci[1])  # type: ignore[attr-defined]
        assert row["pvalue"] == pytest.approx(r.pvalue)  # type: ignore[attr-defined]
        assert row["n_treated"] == r.n_treated  # type: ignore[attr-defined]
        assert row["n_control"] == r.n_control  # type: ignore[attr-defined]
        assert row["inference"] == r.inference  # type: ignore[attr-defined]
        assert row["n_warnings"] == len(r.warnings)  # type: ignore[attr-defined]
    # the pre-trend test sits next to the event study only
    cs = fitted["cs"]
    row = frame[frame["analysis"] == "cs"].iloc[0]
    pre = cs.pretrend_test()  # type: ignore[attr-defined]
    assert row["pretrend_pvalue"] == pytest.approx(pre.pvalue)
    assert row["pretrend_valid"] == (not pre.warnings)
    assert _close(frame[frame["analysis"] == "twfe"].iloc[0]["pretrend_pvalue"], None)
    shown = table.table.loc["Pre-trend test (p)"]
    assert shown["twfe"] == "—" and shown["cs"].endswith(
        "(Wald)" + ("" if not pre.warnings else "†")
    )


def test_power_column_is_an_mde_not_an_estimate(fitted: dict[str, object]) -> None:
    power = fitted["power"]
    table = impact.compare(fitted)
    frame = table.to_frame()
    rows = frame[frame["analysis"] == "power"]
    mde = power.mde(0.8)  # type: ignore[attr-defined]
    assert list(rows["n_treated"]) == [10, 20]
    for _, row in rows.iterrows():
        assert row["role"] == "power"
        assert _close(row["estimate"], None) and _close(row["pvalue"], None)
        assert _close(row["mde"], float(mde.loc[row["n_treated"]]))
    col = table.table["power"]
    assert col["Estimate"] == "—"
    assert col["Role"] == "power (MDE)"
    assert col["MDE (80% power)"].startswith("simulation: 10 treated ")
    assert "estimates no effect" in str(table)


def test_display_cells_format_the_same_numbers(fitted: dict[str, object]) -> None:
    table = impact.compare(fitted).table
    twfe = fitted["twfe"]
    col = table["twfe"]
    assert float(col["Estimate"]) == pytest.approx(twfe.estimate, abs=5e-4)  # type: ignore[attr-defined]
    lo, hi = (float(x) for x in col["95% CI"].strip("[]").split(","))
    assert (lo, hi) == pytest.approx(twfe.ci, abs=5e-4)  # type: ignore[attr-defined]
    assert col["Treated units"] == str(twfe.n_treated)  # type: ignore[attr-defined]
    assert list(table.columns) == ["twfe", "cs", "power"]


def test_study_results_in_file_order_with_roles(flagship_run: StudyRun) -> None:
    res = flagship_run.results
    table = impact.compare(flagship_run)
    assert impact.compare(res).table.equals(table.table)
    frame = table.to_frame()
    assert list(dict.fromkeys(frame["analysis"])) == list(res["analyses"])
    for name, d in res["analyses"].items():
        row = frame[frame["analysis"] == name].iloc[0]
        note = res["notes"][name]
        assert row["role"] == note["role"]
        if note["role"] == "power":
            continue
        assert _close(row["estimate"], d["estimate"])
        assert _close(row["ci_low"], d["ci"][0]) and _close(row["ci_high"], d["ci"][1])
        assert _close(row["pvalue"], d["pvalue"])
        assert row["n_treated"] == d["n_treated"]
        check = note.get("pretrend_check")
        if check:  # the runner's permutation test is the one shown
            assert row["pretrend_pvalue"] == pytest.approx(check["pvalue"])
            assert "permutation" in row["pretrend_method"]
        if note["role"] == "estimate" and note.get("design_detail"):
            assert row["mde"] == pytest.approx(note["design_detail"]["mde"])
    assert table.table.loc["Role", "placebo_in_time"] == "placebo in time"
    assert table.table.loc["Pre-trend test (p)", "cs"].endswith("(permutation)")


def test_markdown_and_html_escape_names() -> None:
    evil = "<script>alert(1)</script>|x"
    table = impact.compare({evil: fake_dict(-1.0, (-2.0, 0.0), 0.05)})
    page = table._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    md = table.to_markdown()
    assert "<script>" not in md and "\\|x" in md
    assert md.splitlines()[0].count(" | ") == 1 + 0  # one analysis column


def test_list_input_and_bad_input(fitted: dict[str, object]) -> None:
    table = impact.compare([fitted["twfe"], fitted["cs"]])
    assert list(table.table.columns) == ["(1)", "(2)"]
    named = impact.compare([fitted["twfe"]], names=["static"])
    assert list(named.table.columns) == ["static"]
    with pytest.raises(SpecError, match="1 results but 2 names"):
        impact.compare([fitted["twfe"]], names=["a", "b"])
    with pytest.raises(SpecError, match="at least one"):
        impact.compare({})
    with pytest.raises(TypeError, match="to_dict"):
        impact.compare([3.0])
    assert isinstance(table.to_frame(), pd.DataFrame)
