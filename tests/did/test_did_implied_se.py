"""The SE printed with a randomization-inference interval is the interval's half-width
over z_{0.975} (DESIGN: one SE per printed 95% interval), for impact.did and bacon."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact

Z = 1.959963984540054  # scipy.special.ndtri(0.975)


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(31)
    n, T = 24, 8
    cohort = np.array([4] * 2 + [6] * 2 + [0] * 20)
    Y = rng.normal(size=(n, 1)) + rng.normal(scale=0.4, size=(n, T))
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), T),
            "year": np.tile(2010 + np.arange(T), n),
            "y": Y.ravel(),
            "cohort": np.repeat(np.where(cohort > 0, 2010 + cohort, 0), T),
        }
    )


KW = {"outcome": "y", "unit": "unit", "time": "year", "cohort": "cohort"}


@pytest.mark.parametrize("fit", ["cs", "bacon"])
def test_permutation_se_is_the_interval_half_width_over_z(fit: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fit == "cs":
            res = impact.did(_panel(), **KW, inference="permutation", n_boot=99, seed=2)
        else:
            res = impact.bacon(
                _panel(), **KW, inference="permutation", n_boot=99, seed=2
            )
    assert res.inference == "permutation"
    lo, hi = res.ci
    assert np.isfinite(lo) and np.isfinite(hi)
    assert res.se == pytest.approx((hi - lo) / (2 * Z), rel=1e-12)
