"""Input rules of the modern DiD estimators (imputation, did2s, ETWFE, stacked, dCDH).

Each rule is switched off by a mutation in tools/mutations/did_second_sweep.json
(``did2-mod-anticipation-rule``, ``did2-mod-stacked-cov-rule``,
``did2-etwfe-no-never-rule``); without the rule the call runs and silently ignores the
option (or fits a design with no comparison group), so these tests fail.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import DataError, SpecError

KW = {"outcome": "y", "unit": "unit", "time": "year", "cohort": "cohort"}


def _panel(never: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n, n_t = 12, 6
    cohort = np.array([2003] * 4 + [2004] * 4 + ([0] * 4 if never else [2005] * 4))
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(2000 + np.arange(n_t), n),
            "y": rng.normal(size=n * n_t),
            "x": rng.normal(size=n * n_t),
            "cohort": np.repeat(cohort, n_t),
        }
    )


@pytest.mark.parametrize("method", ["imputation", "did2s", "etwfe", "stacked", "dcdh"])
def test_anticipation_with_a_modern_method_is_refused(method: str) -> None:
    with pytest.raises(
        SpecError, match="anticipation= is supported by method='cs' only"
    ):
        impact.did(_panel(), **KW, method=method, anticipation=1)


@pytest.mark.parametrize("method", ["stacked", "dcdh"])
def test_covariates_with_stacked_or_dcdh_are_refused(method: str) -> None:
    with pytest.raises(SpecError, match=f"method='{method}' takes no covariates"):
        impact.did(_panel(), **KW, method=method, covariates=["x"])


def test_etwfe_never_control_without_never_treated_is_refused() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            DataError, match="needs never-treated units; there are none"
        ):
            impact.did(_panel(never=False), **KW, method="etwfe", control="never")


@pytest.mark.parametrize("bins", [(2, 2), (3, -1)])
def test_event_study_bins_need_lo_below_hi(bins: tuple[int, int]) -> None:
    """bins=(k, k) would bin every event time into one column (mutation
    ``did2-reg-bins-rule``: ``lo >= hi`` -> ``lo > hi``)."""
    with pytest.raises(SpecError, match=r"bins=\(lo, hi\) needs lo < hi"):
        impact.did(_panel(), **KW, method="event_study", bins=bins)
