"""matched_did enumerates every arrangement when there are exactly ``n_perm`` of them.

The docstring promises exact enumeration "when feasible", i.e. when the number of
arrangements does not exceed ``n_perm``. With 8 matched pairs there are 2^8 = 256 sign
flips; at ``n_perm=256`` the p-value must be the enumerated one, a multiple of 1/256
(Monte Carlo draws plus the observed arrangement would give a multiple of 1/257).

Reference: the studentized sign-flip p-value over all 256 flips written out here
(|mean| / (sd / sqrt(N)) with sd ddof 1; ties within 1e-9 relative count), as in
``test_matched_did_few_pairs.py``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from impact.data.synthetic import generate_la_panel
from impact.matching import matched_did


def _flip_p(tau: np.ndarray) -> float:
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=len(tau))))
    v = signs * tau
    t = np.abs(v.mean(axis=1)) / (v.std(axis=1, ddof=1) / np.sqrt(len(tau)))
    obs = abs(tau.mean()) / (tau.std(ddof=1) / np.sqrt(len(tau)))
    return float(np.mean(t >= obs - 1e-9 * (1 + obs)))


def test_exactly_n_perm_arrangements_are_enumerated() -> None:
    df = generate_la_panel(seed=3, n_treated=8, cohorts={2018: 8}, assignment="random")
    df = df.assign(y=np.log1p(df["cla_rate"]))
    df.loc[df["treated"] == 1, "y"] -= 0.08
    res = matched_did(
        df, outcome="y", unit="la_code", time="year", cohort="cohort",
        inference="permutation", n_perm=256, seed=1,
    )  # fmt: skip
    tau = res.unit_effects["effect"].to_numpy(dtype=float)
    assert len(tau) == 8
    ref = _flip_p(tau)
    assert 0 < ref < 1
    assert res.pvalue == pytest.approx(ref, abs=1e-12)
    assert (res.pvalue * 256) == pytest.approx(round(res.pvalue * 256), abs=1e-9)
