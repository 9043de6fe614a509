"""The propensity model's separation rule, checked against statsmodels fits in the test.

``match`` refuses a converged logit fit as quasi-separated when some score is within
1e-10 of 0 or 1 *and* some standardised slope (covariate scaled by its ddof-0 SD) exceeds
10 in absolute value; a fit that does not converge is refused too. The error names a
covariate whose range alone separates treated from comparison units, on either side.

Reference: ``statsmodels.Logit`` fitted here on a design built with known overlap (one
unit of each group on the wrong side of 0 on an even grid), the two thresholds applied
by hand. No number is taken from ``impact``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special

from impact.errors import EstimationError
from impact.matching import match


def _grid(n: int) -> pd.DataFrame:
    """``x`` on an even grid over [-1, 1]; treated iff x > 0, the two units nearest 0 swapped."""
    x = np.linspace(-1.0, 1.0, n)
    d = (x > 0).astype(int)
    neg = np.flatnonzero(x < 0)[-1]
    pos = np.flatnonzero(x > 0)[0]
    d[neg], d[pos] = 1, 0
    return pd.DataFrame({"d": d, "x": x})


def _logit_by_hand(df: pd.DataFrame) -> tuple[np.ndarray, float, bool]:
    """Scores, standardised slope and convergence flag of the ML logit of d on x."""
    x = df["x"].to_numpy(dtype=float)
    z = (x - x.mean()) / x.std()  # ddof 0, the scale of the stated rule
    design = np.column_stack([np.ones(len(x)), z])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.Logit(df["d"].to_numpy(dtype=float), design).fit(
            method="newton", maxiter=100, tol=1e-12, disp=0
        )
    score = special.expit(design @ res.params)
    return score, float(res.params[1]), bool(res.mle_retvals["converged"])


def test_extreme_scores_with_large_slope_are_refused() -> None:
    # n = 40: the MLE exists (overlap at the centre) but the standardised slope is
    # ~15 (> 10, < 100) and the end scores ~8e-12 (< 1e-10, > 1e-16).
    df = _grid(40)
    score, slope, converged = _logit_by_hand(df)
    assert converged
    assert 10.0 < abs(slope) < 100.0
    extreme = min(score.min(), 1.0 - score.max())
    assert 1e-16 < extreme < 1e-10
    with pytest.raises(EstimationError, match="quasi-complete\\) separation") as err:
        match(df, treatment="d", covariates=["x"])
    # no covariate separates on its own range (the swapped pair overlaps), so none is named
    assert "separates the groups" not in str(err.value)


def test_large_slope_without_extreme_scores_is_fitted() -> None:
    # n = 30: standardised slope ~11 (> 10) but the end scores ~5.6e-9 (> 1e-10): the
    # rule needs both, so the fit stands and its scores are statsmodels' scores.
    df = _grid(30)
    score, slope, converged = _logit_by_hand(df)
    assert converged
    assert abs(slope) > 10.0
    assert min(score.min(), 1.0 - score.max()) > 1e-10
    res = match(df, treatment="d", covariates=["x"])
    assert res.propensity is not None
    np.testing.assert_allclose(res.propensity.to_numpy(), score, rtol=1e-6, atol=0)


@pytest.mark.parametrize("treated_below", [False, True])
def test_separating_covariate_is_named_on_either_side(treated_below: bool) -> None:
    # 'x' alone separates: every treated unit above (or below) every comparison unit;
    # 'noise' (listed first) does not. The message names 'x' in both orientations.
    rng = np.random.default_rng(5)
    x = np.linspace(-1.0, 1.0, 30)
    d = (x < 0) if treated_below else (x > 0)
    df = pd.DataFrame({"d": d.astype(int), "noise": rng.normal(size=30), "x": x})
    assert df.loc[df["d"] == 1, "noise"].min() < df.loc[df["d"] == 0, "noise"].max()
    assert df.loc[df["d"] == 1, "noise"].max() > df.loc[df["d"] == 0, "noise"].min()
    with pytest.raises(EstimationError, match="covariate 'x' separates the groups"):
        match(df, treatment="d", covariates=["noise", "x"])
