"""Every figure kind has a title, labelled axes and no placeholder labels.

The labels are derived from what each result knows (outcome and time column names,
the estimator) and can be overridden with ``title=``, ``xlabel=``, ``ylabel=`` and
``units=``. No reference numbers here: these are presentation checks.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

import impact
from impact.data import load_synthetic
from impact.did import plots as did_plots
from impact.study.robustness import plot_spec_curve, spec_curve_png
from impact.synth import plots as synth_plots

PLACEHOLDERS = ("outcome units", "estimate (estimate)")
MPDTA = {
    "outcome": "lemp",
    "unit": "countyreal",
    "time": "year",
    "cohort": "first.treat",
}
SYN = {"outcome": "cla_rate", "unit": "la_code", "time": "year", "cohort": "cohort"}


def _check(ax: Axes, *, xlabel: bool = True) -> None:
    """Title and axis labels present, and none is a known placeholder."""
    assert isinstance(ax, Axes)
    title, xl, yl = ax.get_title(), ax.get_xlabel(), ax.get_ylabel()
    assert title.strip(), "empty title"
    assert yl.strip(), f"empty y label ({title!r})"
    if xlabel:
        assert xl.strip(), f"empty x label ({title!r})"
    for text in (title, xl, yl):
        low = text.lower()
        for bad in PLACEHOLDERS:
            assert bad not in low, f"placeholder {bad!r} in {text!r}"


@pytest.fixture(scope="module")
def mpdta(reference_data):
    return pd.read_csv(reference_data / "mpdta.csv")


@pytest.fixture(scope="module")
def cs_mpdta(mpdta):
    return impact.did(mpdta, **MPDTA)


@pytest.fixture(scope="module")
def synthetic():
    return load_synthetic()


@pytest.fixture(scope="module")
def prop99(reference_data):
    sm = pd.read_csv(reference_data / "smoking_prop99.csv")
    return impact.synth(
        sm,
        outcome="cigsale",
        unit="state",
        time="year",
        treated_units="California",
        treatment_time=1989,
        n_starts=1,
        seed=1,
    )


# ------------------------------------------------------------------------- DiD
@pytest.mark.parametrize(
    ("method", "kind"),
    [("cs", None), ("cs", "att_gt"), ("event_study", None), ("sunab", None)],
)
def test_did_result_plots(mpdta, method, kind):
    _check(impact.did(mpdta, method=method, **MPDTA).plot(kind=kind))


def test_did_result_plots_use_column_names(mpdta, cs_mpdta):
    ax = cs_mpdta.plot()
    assert ax.get_ylabel() == "Effect on lemp (units of lemp)"
    assert ax.get_xlabel().startswith("Years since adoption")
    ax = cs_mpdta.plot(kind="att_gt", units="log points")
    assert ax.get_ylabel() == "Effect on lemp (log points)"
    _check(impact.did(mpdta, method="twfe", **MPDTA).plot())
    ax = impact.bacon(mpdta, **MPDTA).plot()
    assert "lemp" in ax.get_ylabel()


def test_did_cells_and_bacon(reference_data, mpdta):
    ck = pd.read_csv(reference_data / "card_krueger.csv").dropna(subset=["fte"])
    res = impact.did(
        ck, outcome="fte", unit="id", time="d", treated="d_nj", method="2x2",
        balance="drop",
    )  # fmt: skip
    _check(res.plot())
    _check(impact.bacon(mpdta, **MPDTA).plot())


def test_did_labels_derived_from_result(cs_mpdta):
    labels = did_plots.result_labels(cs_mpdta)
    assert labels["outcome"] == "lemp" and labels["time"] == "year"
    table = cs_mpdta.aggregate("dynamic").to_frame()
    ax = did_plots.plot_event_study(table, **labels)
    _check(ax)
    assert ax.get_ylabel() == "Effect on lemp (units of lemp)"
    assert ax.get_xlabel().startswith("Years since adoption")
    assert "lemp" in ax.get_title() and cs_mpdta.title in ax.get_title()
    ax = did_plots.plot_att_gt(cs_mpdta.att_gt, **labels, units="log points")
    _check(ax)
    assert ax.get_ylabel() == "Effect on lemp (log points)"
    assert ax.get_xlabel() == "Year"
    ax = did_plots.plot_estimate(cs_mpdta.estimate, cs_mpdta.ci, **labels)
    _check(ax)
    assert "lemp" in ax.get_ylabel()


def test_did_overrides_and_time_words(cs_mpdta):
    ax = did_plots.plot_event_study(
        cs_mpdta.aggregate("dynamic").to_frame(),
        title="My title",
        xlabel="Quarters",
        ylabel="Rate per 10,000",
    )
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (
        "My title",
        "Quarters",
        "Rate per 10,000",
    )
    assert did_plots.axis_labels(time="quarter")["event"].startswith("Quarters since")
    assert did_plots.axis_labels(time="t")["calendar"] == "Period"
    assert did_plots.axis_labels(time="wk_id")["calendar"] == "Period (wk_id)"
    lab = did_plots.axis_labels(outcome="cla_rate", units="per 10,000 children")
    assert lab["effect"] == "Effect on cla_rate (per 10,000 children)"


# ----------------------------------------------------------------------- synth
@pytest.mark.parametrize("kind", ["trajectory", "gap", "placebo", "loo", "weights"])
def test_synth_plots(prop99, kind):
    ax = prop99.plot(kind=kind)
    _check(ax)
    text = f"{ax.get_title()} {ax.get_xlabel()} {ax.get_ylabel()}"
    assert "year" not in ax.get_xlabel()  # "Year", not the raw column name
    if kind != "placebo":  # the placebo test object does not carry the outcome name
        assert "California" in text


def test_synth_units_and_overrides(prop99):
    ax = synth_plots.trajectory_plot(prop99, units="packs per capita")
    assert ax.get_ylabel() == "cigsale (packs per capita)"
    ax = synth_plots.placebo_plot(
        prop99.placebo(), outcome="cigsale", units="packs per capita"
    )
    assert ax.get_ylabel() == "Gap in cigsale (packs per capita)"
    assert "cigsale" in ax.get_title()
    ax = synth_plots.gap_plot(prop99, title="T", xlabel="X", ylabel="Y")
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("T", "X", "Y")


# -------------------------------------------------------------------- matching
def test_matching_plots(reference_data, synthetic):
    ll = pd.read_csv(reference_data / "lalonde_matchit.csv")
    ll = ll.assign(
        black=(ll["race"] == "black").astype(int),
        hispan=(ll["race"] == "hispan").astype(int),
    )
    cov = ["age", "educ", "black", "hispan", "married", "nodegree", "re74", "re75"]
    res = impact.match(ll, treatment="treat", covariates=cov, outcome="re78")
    _check(res.plot())
    _check(res.plot(kind="overlap"))
    ax = res.plot(kind="overlap", title="T", xlabel="X", ylabel="Y")
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("T", "X", "Y")
    with pytest.raises(impact.errors.SpecError, match="unexpected keyword"):
        res.plot(colour="red")
    few = synthetic[synthetic["cohort"].isna() | (synthetic["cohort"] <= 2016)]
    _check(impact.matched_did(few, **SYN).plot())


# ----------------------------------------------------------------------- power
def test_power_plots(synthetic):
    res = impact.power.simulate(
        synthetic,
        outcome="cla_rate",
        unit="la_code",
        time="year",
        treatment_time=2019,
        n_treated=[5],
        effect=[0.0, 0.2],
        n_sims=10,
        seed=1,
        estimator="did",
        method="twfe",
    )
    _check(res.plot())
    ax = res.plot(kind="mde")
    _check(ax)
    ax = res.plot(kind="power", title="T", xlabel="X", ylabel="Y")
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("T", "X", "Y")
    with pytest.raises(impact.errors.SpecError, match="unexpected keyword"):
        res.plot(colour="red")


# ------------------------------------------------------------------ spec curve
def _record() -> dict:
    rng = np.random.default_rng(0)
    rows = []
    for i, (c, b) in enumerate(
        [(c, b) for c in ("never", "notyet") for b in ("varying", "universal")]
    ):
        est = float(-0.04 + rng.normal(scale=0.005))
        rows.append(
            {
                "id": i + 1,
                "label": f"control={c}, base_period={b}",
                "settings": {"control": c, "base_period": b},
                "estimate": est,
                "ci_low": est - 0.02,
                "ci_high": est + 0.02,
                "error": None,
            }
        )
    base = {"estimate": -0.04, "ci_low": -0.06, "ci_high": -0.02}
    return {
        "name": "comparison group and base period",
        "base": "cs_never",
        "quantity": "estimate",
        "vary": {
            "control": ["never", "notyet"],
            "base_period": ["varying", "universal"],
        },
        "base_row": base,
        "variants": rows,
        "summary": {},
    }


def test_spec_curve_labels():
    top, bottom = plot_spec_curve(_record())
    assert top.get_title().startswith("Specification curve")
    assert bottom.get_xlabel().strip()
    assert top.get_ylabel().startswith("Estimated effect")
    assert "estimate (estimate)" not in top.get_ylabel().lower()
    top, _ = plot_spec_curve(_record(), outcome="lemp", units="log points")
    assert top.get_ylabel() == "Estimated effect on lemp\n(log points)"
    rec = dict(_record(), quantity="aggregates.dynamic.estimate")
    top, _ = plot_spec_curve(rec, title="Custom")
    assert "dynamic aggregate" in top.get_ylabel() and top.get_title() == "Custom"
    png = spec_curve_png(_record(), outcome="lemp")
    assert png is not None and png.startswith(b"\x89PNG")
    plt.close("all")
