"""matched_did with few matched sets: attainable p-values, warnings, exact intervals.

References are brute-force enumerations written here (every sign flip / every choice
of the treated member of each set), not the package's own output.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import impact.matching.did as mdid
from impact.data.synthetic import generate_la_panel
from impact.matching import matched_did

KW = {"outcome": "y", "unit": "la_code", "time": "year", "cohort": "cohort"}


def _cla(seed: int, n_treated: int) -> pd.DataFrame:
    df = generate_la_panel(
        seed=seed, n_treated=n_treated, cohorts={2018: n_treated}, assignment="random"
    )
    # log(1 + rate): a small authority can have no child in care in a year
    return df.assign(y=np.log1p(df["cla_rate"]))


def _flip_p(tau: np.ndarray, tau0: float) -> float:
    """Sign-flip p-value of a constant effect tau0 over every flip (studentized)."""
    x = tau - tau0
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=len(x))))
    v = signs * x
    t = np.abs(v.mean(axis=1)) / (v.std(axis=1, ddof=1) / np.sqrt(len(x)))
    obs = abs(x.mean()) / (x.std(ddof=1) / np.sqrt(len(x)))
    return float(np.mean(t >= obs - 1e-9 * (1 + obs)))


def test_five_pairs_cannot_reject_and_says_so() -> None:
    df = _cla(seed=11, n_treated=5)
    df.loc[df["treated"] == 1, "y"] += 1.0  # a huge effect: still p >= 1/16
    res = matched_did(df, **KW, inference="permutation")
    assert res.pvalue == pytest.approx(2 / 32)  # all + and all - flips tie
    assert np.isinf(res.ci[0]) and np.isinf(res.ci[1])
    assert any("smallest p-value" in w and "0.0625" in w for w in res.warnings)
    default = matched_did(df, **KW)
    text = " ".join(default.warnings)
    assert "consider inference='permutation'" not in text
    assert "could never reject" in text and "0.0625" in text
    assert default.pvalue < 0.05  # t(4) can reject; the caveat is in the warning


def test_eight_pairs_exact_pvalue_and_interval() -> None:
    df = _cla(seed=3, n_treated=8)
    df.loc[df["treated"] == 1, "y"] -= 0.08
    res = matched_did(df, **KW, inference="permutation")
    tau = res.unit_effects["effect"].to_numpy(dtype=float)
    assert len(tau) == 8
    assert res.pvalue == pytest.approx(_flip_p(tau, 0.0), abs=1e-12)
    lo, hi = res.ci
    assert np.isfinite(lo) and np.isfinite(hi) and lo < res.estimate < hi
    eps = 1e-6 * (hi - lo)
    for bound, outward in ((lo, -eps), (hi, eps)):
        assert _flip_p(tau, bound + outward) <= 0.05
        assert _flip_p(tau, bound - outward) > 0.05
    assert not any("smallest p-value" in w for w in res.warnings)
    default = matched_did(df, **KW)
    assert any("consider inference='permutation'" in w for w in default.warnings)


def test_matched_sets_studentized_enumeration() -> None:
    df = _cla(seed=5, n_treated=5)
    res = matched_did(df, **KW, ratio=3, inference="permutation", n_perm=9999)
    sets = []  # dY of each set, the treated member first
    eff = res.unit_effects
    units = df["la_code"].unique()
    for _, row in eff.iterrows():
        ctrl = res.matched.loc[res.matched["treated"] == row["unit"], "control"]
        members = [row["unit"], *ctrl]
        wide = df.pivot(index="la_code", columns="year", values="y").loc[members]
        post = wide.columns >= 2018
        sets.append(
            (
                wide.loc[:, post].mean(axis=1) - wide.loc[:, ~post].mean(axis=1)
            ).to_numpy()
        )
    assert len(units) == 150 and all(len(s) == 4 for s in sets)
    stats = []
    for choice in itertools.product(range(4), repeat=len(sets)):
        x = np.array(
            [s[k] - np.delete(s, k).mean() for s, k in zip(sets, choice, strict=True)]
        )
        stats.append(abs(x.mean()) / (x.std(ddof=1) / np.sqrt(len(x))))
    stats_arr = np.array(stats)
    obs = stats_arr[0]  # choice (0, ..., 0): the observed treated members
    expect = float(np.mean(stats_arr >= obs - 1e-9 * (1 + obs)))
    assert res.pvalue == pytest.approx(expect, abs=1e-12)


def _size(reps: int, n_treated: int) -> float:
    hits = 0
    for r in range(reps):
        res = matched_did(
            _cla(seed=1000 + r, n_treated=n_treated), **KW, inference="permutation"
        )
        hits += res.pvalue <= 0.05
    return hits / reps


def _band(reps: int) -> float:
    return 2 * np.sqrt(0.05 * 0.95 / reps) + 0.01


def test_permutation_size_eight_pairs_reduced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random adoption of 8 of 150 calibrated authorities: size 5% +/- 2 MCSE + 1pt."""
    # the selection diagnostic (its own randomization test) is not what is measured
    monkeypatch.setattr(mdid, "attach_selection_panel", lambda *a, **k: None)
    reps = 150
    assert abs(_size(reps, 8) - 0.05) <= _band(reps)


@pytest.mark.slow
def test_permutation_size_eight_pairs_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mdid, "attach_selection_panel", lambda *a, **k: None)
    reps = 1000
    assert abs(_size(reps, 8) - 0.05) <= _band(reps)
