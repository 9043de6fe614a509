"""Fixtures for the contract tests: small real and synthetic data, fitted results.

Every public estimator is fitted once per session on a small dataset (so the whole
``tests/contract`` run stays well under its 90 s budget) and the protocol tests share
those fits. The estimator cases live in ``contract_cases.py`` (importable because this
folder is put on ``sys.path``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from contract_cases import _small_synthetic, fit_case  # noqa: E402


@pytest.fixture(scope="session")
def syn() -> pd.DataFrame:
    """Staggered synthetic LA panel (50 LAs x 16 years, cohorts 2015/16/18/20)."""
    return _small_synthetic()


@pytest.fixture(scope="session")
def syn_one_cohort(syn: pd.DataFrame) -> pd.DataFrame:
    """One treated cohort (2018) + never treated: the 2x2 design."""
    return syn.loc[syn["cohort"].isin([0, 2018])].reset_index(drop=True)


@pytest.fixture(scope="session")
def smoking(reference_data: Path) -> pd.DataFrame:
    """Prop 99 panel (Abadie et al. 2010), California + 12 donors to keep fits fast."""
    df = pd.read_csv(reference_data / "smoking_prop99.csv")
    donors = sorted(u for u in df["state"].unique() if u != "California")[:12]
    return df.loc[df["state"].isin(["California", *donors])].reset_index(drop=True)


@pytest.fixture(scope="session")
def lalonde(reference_data: Path) -> pd.DataFrame:
    """Lalonde NSW/PSID sample as shipped with R MatchIt."""
    return pd.read_csv(reference_data / "lalonde_matchit.csv")


@pytest.fixture(scope="session")
def datasets(
    syn: pd.DataFrame,
    syn_one_cohort: pd.DataFrame,
    smoking: pd.DataFrame,
    lalonde: pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    return {
        "syn": syn,
        "syn_one_cohort": syn_one_cohort,
        "smoking": smoking,
        "lalonde": lalonde,
    }


@pytest.fixture(scope="session")
def fitted(datasets: dict[str, pd.DataFrame]) -> Callable[[str], Any]:
    """``fitted(case)`` -> the default fit of that case, computed once per session."""
    cache: dict[str, Any] = {}

    def get(case: str) -> Any:
        if case not in cache:
            cache[case] = fit_case(case, datasets)
        return cache[case]

    return get
