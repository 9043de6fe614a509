"""Tests of the synthetic LA-panel generator (impact.data.synthetic)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.data.synthetic import (
    ar1_panel,
    generate_la_panel,
    main_synthetic,
)
from impact.errors import SpecError
from impact.panel import Panel

REPO = Path(__file__).resolve().parents[2]
COLUMNS = [
    "la_code",
    "la_name",
    "region",
    "deprivation",
    "year",
    "child_pop",
    "cla_count",
    "cla_rate",
    "cohort",
    "treated",
    "true_effect",
]


def test_columns_shape_and_types() -> None:
    df = generate_la_panel(n_units=40, seed=1, n_treated=8, effect=-0.05)
    assert list(df.columns) == COLUMNS
    assert df.shape == (40 * 16, 11)
    assert df["la_code"].nunique() == 40
    assert df.groupby("la_code")["year"].apply(list).map(len).eq(16).all()
    assert (df["cla_count"] >= 0).all() and (df["child_pop"] > 0).all()
    np.testing.assert_allclose(
        df["cla_rate"], df["cla_count"] / df["child_pop"] * 1e4, atol=1e-4
    )
    # cohort and region constant within authority
    assert (
        df.groupby("la_code")[["cohort", "region", "deprivation"]]
        .nunique()
        .eq(1)
        .all()
        .all()
    )
    assert (df.groupby("la_code")["cohort"].first() > 0).sum() == 8


def test_same_seed_same_panel_and_generator_accepted() -> None:
    a = generate_la_panel(n_units=30, seed=7)
    b = generate_la_panel(n_units=30, seed=np.random.default_rng(7))
    c = generate_la_panel(n_units=30, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["cla_count"].equals(c["cla_count"])


def test_treated_indicator_and_true_effect() -> None:
    df = generate_la_panel(
        n_units=60,
        seed=3,
        assignment="staggered",
        cohorts={2015: 4, 2018: 6},
        effect=-0.10,
        phase_in=2,
    )
    tr = df[df["cohort"] > 0]
    assert ((tr["year"] >= tr["cohort"]).astype(int) == tr["treated"]).all()
    assert (df.loc[df["cohort"] == 0, "treated"] == 0).all()
    assert (df.loc[df["treated"] == 0, "true_effect"] == 0).all()
    # phase-in over 3 years: share 1/3, 2/3, 1 of the full -10% of the expected rate
    e = (tr["year"] - tr["cohort"]).to_numpy()
    rel = tr["true_effect"].to_numpy()
    first = rel[e == 0]
    full = rel[e >= 2]
    assert (first < 0).all() and (full < 0).all()
    assert np.median(np.abs(first)) < np.median(np.abs(full))
    assert sorted(tr["cohort"].unique()) == [2015, 2018]


def test_effect_size_relative_to_counterfactual() -> None:
    # Full effect -0.1 immediately: true_effect / expected counterfactual rate = -0.1,
    # so true_effect / (observed rate - true_effect) is close to -0.1 on average.
    df = generate_la_panel(n_units=150, seed=11, n_treated=40, effect=-0.10)
    tr = df[df["treated"] == 1]
    cf = tr["cla_rate"] - tr["true_effect"]
    ratio = (tr["true_effect"] / cf).mean()
    assert ratio == pytest.approx(-0.10, abs=0.01)


def test_heterogeneity_orders_cohorts() -> None:
    df = generate_la_panel(
        n_units=80,
        seed=4,
        assignment="staggered",
        cohorts={2014: 5, 2016: 5, 2018: 5},
        effect=-0.10,
        heterogeneity=0.5,
    )
    tr = df[df["treated"] == 1].copy()
    tr["rel"] = tr["true_effect"] / (tr["cla_rate"] - tr["true_effect"])
    means = tr.groupby("cohort")["rel"].mean()
    # documented: earliest effect * (1 + h), latest effect * (1 - h), linear between;
    # the observed rate carries Poisson noise (per-cell SD of the ratio ~0.007, so
    # the cohort means are within ~0.002): tolerance 0.005
    assert means.to_numpy() == pytest.approx([-0.15, -0.10, -0.05], abs=0.005)


def test_selected_assignment_picks_high_rising_rates() -> None:
    # Regression-to-the-mean trap: adopters selected on high and rising rates have a
    # higher level and a rising gap before adoption, then regress back (no effect).
    gaps = []
    for seed in range(8):
        df = generate_la_panel(
            seed=seed, assignment="selected", cohorts={2018: 15}, effect=0.0
        )
        logr = np.log(df["cla_rate"].clip(lower=0.5))
        m = logr.groupby([df["cohort"] > 0, df["year"]]).mean().unstack(0)
        gaps.append((m[True] - m[False]).to_numpy())
    gap = np.mean(gaps, axis=0)  # years 2010..2025
    assert gap[0] > 0.1  # higher level
    assert gap[7] - gap[4] > 0.05  # rising 2014 -> 2017
    assert gap[15] < gap[7]  # regresses after 2017 with a zero effect


def test_random_assignment_default_single_cohort() -> None:
    df = generate_la_panel(n_units=50, seed=2, n_treated=10)
    assert sorted(df.loc[df["cohort"] > 0, "cohort"].unique()) == [2018]


def test_panel_accepts_generated_data() -> None:
    df = generate_la_panel(n_units=30, seed=5, n_treated=6, assignment="staggered")
    before = df.copy()
    p = Panel(df, unit="la_code", time="year", outcome="cla_rate", cohort="cohort")
    assert p.Y.shape == (30, 16)
    assert p.n_treated == 6
    pd.testing.assert_frame_equal(df, before)


def test_poisson_is_less_noisy_than_negbin() -> None:
    def sd_change(model: str) -> float:
        df = generate_la_panel(seed=9, count_model=model, n_treated=0)
        w = np.log(df.pivot(index="la_code", columns="year", values="cla_rate"))
        return float((w - w.mean()).diff(axis=1).stack().std())

    assert sd_change("poisson") < sd_change("negbin")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"assignment": "best"}, "The 'assignment' parameter of generate_la_panel"),
        ({"count_model": "normal"}, "The 'count_model' parameter"),
        ({"effect": -1.5}, "The 'effect' parameter"),
        ({"rho": 1.0}, "The 'rho' parameter"),
        ({"n_treated": 150}, "The 'n_treated' parameter"),
        ({"cohorts": {2010: 3}}, "Cohort year 2010 .* outside"),
        ({"cohorts": {2030: 3}}, "Cohort year 2030"),
        ({"cohorts": {2015: 0}}, "has 0 authorities"),
        ({"cohorts": {2015: 3}, "n_treated": 4}, "does not match"),
        ({"cohorts": {2015: 150}}, "leave at least one never-treated"),
        ({"start": 2020, "end": 2019}, "'end' year"),
        ({"dispersion": -1.0}, "'dispersion' parameter"),
        ({"national_trend": [0.0, 1.0]}, "'national_trend' parameter"),
        ({"n_units": 1}, "'n_units' parameter"),
        ({"phase_in": -1}, "'phase_in' parameter"),
    ],
)
def test_bad_options_raise_spec_error(kwargs: dict, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        generate_la_panel(**kwargs)


def test_ar1_panel_moments() -> None:
    x = ar1_panel(4000, 8, 0.7, 2.0, seed=1)
    assert x.shape == (4000, 8)
    # stationary SD 2 in every period; lag-1 correlation 0.7 (sampling SE ~0.01-0.03)
    np.testing.assert_allclose(x.std(axis=0), 2.0, atol=0.08)
    lag1 = np.mean([np.corrcoef(x[:, t], x[:, t + 1])[0, 1] for t in range(7)])
    assert lag1 == pytest.approx(0.7, abs=0.02)
    y = ar1_panel(
        5, 6, 0.5, 1.0, seed=np.random.default_rng(3), unit_sd=1.0, time_sd=1.0
    )
    np.testing.assert_array_equal(
        y, ar1_panel(5, 6, 0.5, 1.0, seed=3, unit_sd=1.0, time_sd=1.0)
    )


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((3, 4, 1.2), "The 'rho' parameter of ar1_panel"),
        ((0, 4, 0.5), "The 'n_units' parameter of ar1_panel"),
        ((3, 4, 0.5, -1.0), "The 'sigma' parameter of ar1_panel"),
    ],
)
def test_ar1_panel_bad_input(args: tuple, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        ar1_panel(*args)


def test_cli_writes_reproducible_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sub" / "panel.csv"
    argv = [
        "--seed",
        "5",
        "--out",
        str(out),
        "--n-units",
        "20",
        "--cohorts",
        "2016:3,2019:2",
    ]
    assert main_synthetic(argv) == 0
    first = out.read_bytes()
    assert main_synthetic(argv) == 0
    assert out.read_bytes() == first
    df = pd.read_csv(out)
    assert df["la_code"].nunique() == 20
    assert "20 authorities x 16 years, 5 treated" in capsys.readouterr().out


def test_cli_bad_option_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.csv"
    assert (
        main_synthetic(["--seed", "1", "--out", str(out), "--cohorts", "2016-3"]) == 2
    )
    assert "--cohorts must look like" in capsys.readouterr().err
    assert main_synthetic(["--seed", "1", "--out", str(out), "--effect", "-2"]) == 2
    assert not out.exists()
    assert main_synthetic(["--out", str(out)]) == 2  # --seed is required
    assert "the following arguments are required: --seed" in capsys.readouterr().err
    assert main_synthetic(["--help"]) == 0


def _regenerate(argv: list[str], tmp_path: Path) -> str:
    out = tmp_path / "regen.csv"
    assert main_synthetic([*argv, "--out", str(out)]) == 0
    return hashlib.md5(out.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        (
            "innovation_panel.csv",
            [
                "--seed",
                "20141031",
                "--assignment",
                "selected",
                "--cohorts",
                "2015:5,2016:5,2018:5,2020:5",
                "--effect",
                "-0.05",
                "--phase-in",
                "2",
            ],
        ),
        (
            "random_staggered_panel.csv",
            [
                "--seed",
                "2024",
                "--assignment",
                "staggered",
                "--cohorts",
                "2016:8,2018:8,2020:8",
                "--effect",
                "-0.10",
            ],
        ),
    ],
)
def test_committed_panels_regenerate(
    name: str, argv: list[str], tmp_path: Path
) -> None:
    committed = REPO / "data" / "synthetic" / name
    expected = hashlib.md5(committed.read_bytes()).hexdigest()
    assert _regenerate(argv, tmp_path) == expected
    readme = (REPO / "data" / "synthetic" / "README.md").read_text()
    command = f"impact data synthetic {' '.join(argv)} --out data/synthetic/{name}"
    assert command in readme
