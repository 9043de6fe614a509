"""pilot_covariance and panel_did_mde on a small pilot, against a brute-force
computation written here from Burlig, Preonas and Woerman (2020, eq. 7-8) and the
function's documented conventions:

* residuals of statsmodels OLS on unit and period dummies (two-way fixed effects);
* their T x T covariance across units with divisor N - 1;
* per window of pre + post consecutive periods, sigma2 = mean variance, psi_pre /
  psi_post = mean covariance over the m(m-1) / r(r-1) ordered pairs of distinct
  pre / post periods, psi_cross = mean pre x post covariance; averaged over windows;
* var_contrast = per-window sample variance (ddof 1) of each unit's post mean minus
  pre mean, averaged over windows;
* MDE = (t_{power, J} + t_{1-alpha/2, J}) * sqrt(var_contrast / (P (1-P) J)).

Tolerance 1e-10 (floating point only).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from impact.panel import Panel
from impact.power import panel_did_mde, pilot_covariance


def test_pilot_covariance_and_mde_by_brute_force() -> None:
    rng = np.random.default_rng(8)
    n, t, m, r = 7, 7, 2, 3
    Y = rng.normal(size=(n, t)).cumsum(axis=1) + rng.normal(size=(n, 1)) * 3
    long = pd.DataFrame(
        {"u": np.repeat(np.arange(n), t), "p": np.tile(np.arange(t), n), "y": Y.ravel()}
    )
    resid = smf.ols("y ~ C(u) + C(p)", long).fit().resid.to_numpy().reshape(n, t)
    cov = np.zeros((t, t))
    for a, b in itertools.product(range(t), range(t)):
        cov[a, b] = np.sum(resid[:, a] * resid[:, b]) / (n - 1)
    parts = []
    contrasts = []
    for s in range(t - m - r + 1):
        pre = list(range(s, s + m))
        post = list(range(s + m, s + m + r))
        win = pre + post
        sig = np.mean([cov[i, i] for i in win])
        pp = np.mean([cov[i, j] for i in pre for j in pre if i != j])
        qq = np.mean([cov[i, j] for i in post for j in post if i != j])
        pq = np.mean([cov[i, j] for i in pre for j in post])
        parts.append((sig, pp, qq, pq))
        c = Y[:, post].mean(axis=1) - Y[:, pre].mean(axis=1)
        contrasts.append(np.sum((c - c.mean()) ** 2) / (n - 1))
    want = dict(zip(("sigma2", "psi_pre", "psi_post", "psi_cross"), np.mean(parts, 0)))
    got = pilot_covariance(Panel.from_arrays(Y), pre=m, post=r)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-10), key
    assert got["var_contrast"] == pytest.approx(np.mean(contrasts), abs=1e-10)
    assert got["n_windows"] == 3 and got["n_units"] == 7
    # MDE for 40 units, 10 treated, from this pilot's contrast variance
    j, n1 = 40, 10
    p = n1 / j
    mult = stats.t.ppf(0.8, j) + stats.t.ppf(0.975, j)
    mde = mult * np.sqrt(np.mean(contrasts) / (p * (1 - p) * j))
    assert panel_did_mde(
        Panel.from_arrays(Y), n_units=j, n_treated=n1, pre=m, post=r
    ) == pytest.approx(mde, rel=1e-10)


def test_bpw_iid_errors_use_panel_residual_dof() -> None:
    # phi = 0 (no serial correlation): BPW's bracket is (m + r) / (m r) sigma2 and the
    # t quantiles take the residual dof of the unit + period FE regression,
    # J (m + r) - (J + m + r) = 20 * 5 - 28 = 72.
    j, n1, m, r = 20, 5, 2, 3
    p = n1 / j
    df = j * (m + r) - (j + m + r)
    bracket = (m + r) / (m * r) * 1.7
    mult = stats.t.ppf(0.9, df) + stats.t.ppf(0.975, df)
    want = mult * np.sqrt(bracket / (p * (1 - p) * j))
    got = panel_did_mde(
        n_units=j, n_treated=n1, pre=m, post=r, sigma2=1.7, phi=0.0, power=0.9
    )
    assert got == pytest.approx(want, rel=1e-12)
    # with serial correlation the dof are J (BPW's cluster-robust case)
    got_ar = panel_did_mde(n_units=j, n_treated=n1, pre=m, post=r, phi=0.5)
    from impact.power import ar1_covariances

    cov = ar1_covariances(m, r, 1.0, 0.5)
    bracket = (
        (m + r) / (m * r) * cov["sigma2"]
        + (m - 1) / m * cov["psi_pre"]
        + (r - 1) / r * cov["psi_post"]
        - 2 * cov["psi_cross"]
    )
    mult = stats.t.ppf(0.8, j) + stats.t.ppf(0.975, j)
    assert got_ar == pytest.approx(
        mult * np.sqrt(bracket / (p * (1 - p) * j)), rel=1e-12
    )
    from impact.errors import SpecError

    for phi in (1.0, -1.0):
        with pytest.raises(SpecError, match=r"'phi' parameter .* must be in \(-1, 1\)"):
            panel_did_mde(n_units=j, n_treated=n1, pre=m, post=r, phi=phi)


def test_cluster_design_with_unequal_clusters_and_covariates() -> None:
    # Bloom (2005) / Eldridge et al. (2006), written out: with cluster-size CV c the
    # design effect is 1 + ((c^2 + 1) m - 1) icc; covariates scale the between part
    # by (1 - R2_between) and the within part by (1 - R2_within);
    # MDE = (t_{0.975, J-2} + t_{0.8, J-2}) sqrt(var / (P (1 - P) J)) in SD units,
    # var = [icc (1 - R2b)(1 + c^2) m + (1 - icc)(1 - R2w)] / m.
    from impact.power import cluster_design

    j, m, icc, cv, r2b, r2w = 30, 50, 0.05, 0.5, 0.3, 0.2
    var = (icc * (1 - r2b) * (1 + cv**2) * m + (1 - icc) * (1 - r2w)) / m
    mult = stats.t.ppf(0.975, j - 2) + stats.t.ppf(0.8, j - 2)
    want = mult * np.sqrt(var / (0.25 * j))
    got = cluster_design(
        n_clusters=j,
        power=0.8,
        cluster_size=m,
        icc=icc,
        cv=cv,
        r2_between=r2b,
        r2_within=r2w,
    )
    assert got == pytest.approx(want, rel=1e-12)
    # power at that effect is 0.8 again (t with J - 2 dof, two-sided)
    pw = cluster_design(
        n_clusters=j,
        effect=want,
        cluster_size=m,
        icc=icc,
        cv=cv,
        r2_between=r2b,
        r2_within=r2w,
    )
    assert pw == pytest.approx(
        stats.t.cdf(
            want / np.sqrt(var / (0.25 * j)) - stats.t.ppf(0.975, j - 2), j - 2
        ),
        rel=1e-12,
    )


def test_bpw_no_residual_dof_is_refused() -> None:
    # iid errors, 2 units and one pre- and one post-period: J (m + r) - (J + m + r)
    # = 0 residual dof, no t test exists
    from impact.errors import SpecError

    with pytest.raises(SpecError, match="leave 0 residual degrees of freedom"):
        panel_did_mde(n_units=2, n_treated=1, pre=1, post=1, phi=0.0)
