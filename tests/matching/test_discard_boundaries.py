"""Common-support discard keeps units exactly at the other group's extreme scores.

Reference: MatchIt 4.x ``discard()`` (R/discard.R) drops, for ``discard="treated"``,
treated units with ``pscore < min(pscore[control])`` or ``> max(pscore[control])`` (and
symmetrically for ``"control"``): strict inequalities, so a unit whose score equals the
other group's minimum or maximum is kept. User-given scores (``distance=<column>``) put
units exactly on those bounds; the kept counts are read off the scores here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.matching import match


@pytest.mark.parametrize("option", ["treated", "control"])
def test_discard_keeps_units_on_the_other_groups_range(option: str) -> None:
    # treated scores 0.2 (= control min), 0.3, 0.5, 0.7 (= control max), 0.8 (above);
    # control scores 0.2 .. 0.7 plus one at 0.1 and one at 0.9 for option "control"
    # (treated range 0.2 .. 0.8: 0.1 and 0.9 outside, 0.2 on the bound, kept).
    if option == "treated":
        pt = np.array([0.2, 0.3, 0.5, 0.7, 0.8])
        pc = np.linspace(0.2, 0.7, 11)
    else:
        pt = np.array([0.2, 0.35, 0.5, 0.65, 0.8])
        pc = np.r_[0.1, 0.2, np.linspace(0.25, 0.75, 11), 0.8, 0.9]
    ps = np.r_[pt, pc]
    d = np.r_[np.ones(len(pt)), np.zeros(len(pc))].astype(bool)
    df = pd.DataFrame({"d": d.astype(int), "ps": ps, "x": np.sin(np.arange(len(ps)))})
    if option == "treated":
        lo, hi = pc.min(), pc.max()
        kept_t = (pt >= lo) & (pt <= hi)
        assert kept_t.sum() == 4  # 0.2 and 0.7 sit on the bounds
        expect_t, expect_c = int(kept_t.sum()), len(pc)
    else:
        lo, hi = pt.min(), pt.max()
        kept_c = (pc >= lo) & (pc <= hi)
        assert kept_c.sum() == len(pc) - 2  # 0.2 and 0.8 sit on the bounds
        expect_t, expect_c = len(pt), int(kept_c.sum())
    res = match(
        df, treatment="d", covariates=["x"], distance="ps", discard=option, replace=True
    )
    w = res.weights.to_numpy()
    # every kept treated unit is matched (with replacement, no caliper)
    assert int(((w > 0) & d).sum()) == expect_t
    lost = [m for m in res.warnings if "left unmatched" in m]
    if option == "treated":
        assert lost and lost[0].startswith(f"1 of {len(pt)} treated units")
    else:
        assert not lost
        # each treated unit's nearest control among the kept ones, by brute force
        keep = ~d.copy()
        keep[len(pt) :] = (pc >= lo) & (pc <= hi)
        cand = np.flatnonzero(keep)
        near = {int(cand[np.argmin(np.abs(ps[cand] - s))]) for s in pt}
        assert set(np.flatnonzero((w > 0) & ~d).tolist()) == near
        assert expect_c == len(pc) - 2
