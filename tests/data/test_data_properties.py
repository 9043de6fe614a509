"""Property-based checks of the synthetic generator and the marker parser."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impact.data.dfe import EES_MARKERS, SFR_MARKERS, _parse_values
from impact.data.synthetic import generate_la_panel


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_units=st.integers(5, 40),
    start=st.integers(2000, 2015),
    length=st.integers(3, 12),
    effect=st.floats(-0.5, 0.5),
    phase_in=st.integers(0, 3),
    model=st.sampled_from(["poisson", "negbin"]),
    assignment=st.sampled_from(["random", "staggered", "selected"]),
    seed=st.integers(0, 2**31),
)
def test_generator_invariants(
    n_units: int,
    start: int,
    length: int,
    effect: float,
    phase_in: int,
    model: str,
    assignment: str,
    seed: int,
) -> None:
    end = start + length - 1
    n_treated = max(1, n_units // 4)
    df = generate_la_panel(
        n_units=n_units,
        start=start,
        end=end,
        seed=seed,
        assignment=assignment,
        n_treated=n_treated,
        effect=effect,
        phase_in=phase_in,
        count_model=model,
    )
    assert df.shape == (n_units * length, 11)
    assert np.isfinite(df[["cla_rate", "true_effect", "deprivation"]].to_numpy()).all()
    assert (df["cla_count"] >= 0).all()
    assert (df.groupby("la_code")["cohort"].first() > 0).sum() == n_treated
    cohort = df["cohort"]
    assert ((cohort > 0) & (df["year"] >= cohort)).astype(int).equals(df["treated"])
    assert (df.loc[df["treated"] == 0, "true_effect"] == 0).all()
    signs = np.sign(df.loc[df["treated"] == 1, "true_effect"])
    assert (signs * np.sign(effect) >= 0).all()  # 0 allowed: tiny effects round to 0
    # treatment is absorbing within each unit
    assert (df.groupby("la_code")["treated"].diff().fillna(0) >= 0).all()


@given(
    st.lists(
        st.one_of(
            st.integers(0, 10**6).map(str),
            st.sampled_from(sorted(EES_MARKERS)),
            st.just(""),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_markers_never_become_numbers(tokens: list[str]) -> None:
    values, marker, reason = _parse_values(pd.Series(tokens), EES_MARKERS, "f.csv", "c")
    for token, v, m, r in zip(tokens, values, marker, reason, strict=True):
        if token.isdigit():
            assert v == int(token) and m is None and r is None
        else:
            assert np.isnan(v) and m == token and r is not None


def test_sfr_and_ees_meanings_of_x_differ() -> None:
    assert EES_MARKERS["x"] == "not available"
    assert SFR_MARKERS["x"].startswith("suppressed (1 to 5")
