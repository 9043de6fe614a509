"""Provenance for the BPW and McKenzie MDE tables: an independent simulation of each DGP.

``reference/bpw_mde_table.csv`` and ``reference/mckenzie_mde_table.csv`` were computed
by the research report from the papers' formulas (the papers' own tables use other
designs), so matching them alone would only show that two implementations of one formula
agree. Here every row is re-derived from its data-generating process by simulation, with
no variance formula:

- BPW (Burlig, Preonas and Woerman 2020, J. Dev. Econ. 144): unit and period effects plus
  stationary AR(1) errors with coefficient ``phi`` and variance 1. The DiD estimate is the
  difference between arms of each unit's (mean post - mean pre), so its variance is
  ``Var(dY_i) (1/n1 + 1/n0)``; ``Var(dY_i)`` is simulated on M = 200,000 independent unit
  paths, and the MDE is ``(t_.975 + t_.80) sd`` with BPW's degrees of freedom (``J``
  with serial correlation, else ``J(m + r) - (J + m + r)``).
- McKenzie (2012, J. Dev. Econ. 99): equicorrelated outcomes (correlation ``rho`` between
  any two periods, total variance 1), with the post-only, DiD and ANCOVA estimators
  (ANCOVA: residual of the post mean on the pre mean), normal critical values.

Tolerance: the simulated variance has relative SE ``sqrt(2 / M)`` = 0.32%, so the MDE has
0.16%; 4 SEs (0.63%) plus the 5e-5 rounding of the 4-decimal tables. Neighbouring rows
differ by at least 1.5% (pre=5, post=1: phi 0 vs 0.3), so a table entry computed with a
wrong covariance term, wrong df or wrong critical value fails. A reduced power check
simulates whole experiments at the tabulated MDE and finds power 0.80 (two-sided bound).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from impact.power import mckenzie_mde, panel_did_mde

pytestmark = pytest.mark.reference

REF = Path(__file__).parent / "reference"
M = 200_000
REL = 4 * 0.5 * np.sqrt(2 / M)


def _ar1_paths(m, t, phi, rng):
    y = np.empty((m, t))
    y[:, 0] = rng.normal(size=m)
    scale = np.sqrt(1 - phi**2)
    for s in range(1, t):
        y[:, s] = phi * y[:, s - 1] + scale * rng.normal(size=m)
    return y


def _bpw_row_by_simulation(row, seed):
    pre, post, phi = int(row["pre"]), int(row["post"]), float(row["phi"])
    n, n1 = int(row["n_units"]), int(row["n_treated"])
    y = _ar1_paths(M, pre + post, phi, np.random.default_rng(seed))
    dy = y[:, pre:].mean(axis=1) - y[:, :pre].mean(axis=1)
    sd = np.sqrt(dy.var(ddof=1) * (1 / n1 + 1 / (n - n1)))
    # BPW's t degrees of freedom (pc_dd_analytic.ado, as documented in
    # impact.power.panel_did_mde): J with serially correlated errors, else the panel
    # regression's J(m + r) - (J + m + r)
    df = n if phi > 0 else n * (pre + post) - (n + pre + post)
    return (stats.t.ppf(0.975, df) + stats.t.ppf(0.8, df)) * sd


BPW = pd.read_csv(REF / "bpw_mde_table.csv")
MCK = pd.read_csv(REF / "mckenzie_mde_table.csv")


@pytest.mark.parametrize("i", range(len(BPW)))
def test_bpw_table_row_matches_simulated_dgp(i):
    row = BPW.iloc[i]
    sim = _bpw_row_by_simulation(row, seed=100 + i)
    assert row["mde"] == pytest.approx(sim, rel=REL, abs=REL * sim + 5e-5)
    got = panel_did_mde(
        n_units=int(row["n_units"]),
        n_treated=int(row["n_treated"]),
        pre=int(row["pre"]),
        post=int(row["post"]),
        phi=float(row["phi"]),
    )
    assert got == pytest.approx(sim, rel=REL)


@pytest.mark.parametrize("i", range(len(MCK)))
def test_mckenzie_table_row_matches_simulated_dgp(i):
    row = MCK.iloc[i]
    pre, post, rho = int(row["pre"]), int(row["post"]), float(row["rho"])
    n, n1 = int(row["n_units"]), int(row["n_treated"])
    rng = np.random.default_rng(200 + i)
    y = np.sqrt(rho) * rng.normal(size=(M, 1)) + np.sqrt(1 - rho) * rng.normal(
        size=(M, pre + post)
    )
    ybar_pre, ybar_post = y[:, :pre].mean(axis=1), y[:, pre:].mean(axis=1)
    slope = np.cov(ybar_post, ybar_pre)[0, 1] / ybar_pre.var(ddof=1)
    variances = {
        "post": ybar_post.var(ddof=1),
        "did": (ybar_post - ybar_pre).var(ddof=1),
        "ancova": (ybar_post - slope * ybar_pre).var(ddof=1),
    }
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    for design, v in variances.items():
        sim = z * np.sqrt(v * (1 / n1 + 1 / (n - n1)))
        assert row[f"{design}_mde"] == pytest.approx(sim, rel=REL, abs=REL * sim + 5e-5)
        got = mckenzie_mde(
            n_units=n, n_treated=n1, pre=pre, post=post, rho=rho, design=design
        )
        assert got == pytest.approx(sim, rel=REL)


def test_bpw_mde_gives_80_percent_power_in_simulated_experiments():
    """Whole experiments at the tabulated MDE reject 80% of the time.

    150 units (15 treated), 10 pre and 5 post periods, AR(1) phi = 0.5, effect = the
    table's 0.6080; each experiment is tested with the exact two-sample t-test on the
    units' mean changes. 3,000 experiments: MC SE 0.73 points, bounds 0.80 +/- 2.5
    points (2 SEs + 1). An MDE 10% too small would give power ~0.73, 10% too large ~0.86.
    """
    row = BPW[(BPW["phi"] == 0.5) & (BPW["n_treated"] == 15) & (BPW["pre"] == 10)]
    mde = float(row["mde"].iloc[0])
    R, n, n1 = 3000, 150, 15
    rng = np.random.default_rng(7)
    y = _ar1_paths(R * n, 15, 0.5, rng)
    dy = (y[:, 10:].mean(axis=1) - y[:, :10].mean(axis=1)).reshape(R, n)
    dy[:, :n1] += mde
    t = stats.ttest_ind(dy[:, :n1], dy[:, n1:], axis=1)
    power = float(np.mean(t.pvalue < 0.05))
    se = np.sqrt(0.8 * 0.2 / R)
    assert abs(power - 0.80) < 2 * se + 0.01
