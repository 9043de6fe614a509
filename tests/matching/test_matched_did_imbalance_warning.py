"""matched_did's remaining-imbalance warning (|SMD| > 0.1) and its reported level.

Reference: six treated areas, each with one never-treated area close in pre-period level
and four decoys far away, so 1:1 nearest matching on ``level`` (the mean pre-period
outcome; one feature, so Mahalanobis order = order of |level difference|) has one
answer, written out here. SMDs of the pre-period outcomes at event times -2, -1 and of
the level from ``balance_by_hand`` (weighted mean difference over the treated SD of the
unmatched sample, MatchIt/cobalt ATT). The offsets put the SMDs after matching between
0.1 and 0.25, so the rule's 0.1 cut (Austin 2009; cobalt's default) is what decides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from impact import matched_did

from .balance_by_hand import balance_row


def _design() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, int]:
    a = np.array([10.0, 12.0, 14.0, 16.0, 18.0, 20.0])  # treated pre-period levels
    off = np.array([0.5, 0.3, 0.6, 0.4, 0.2, 0.5])  # matched control above by this
    decoy = np.array([40.0, 45.0, 50.0, 55.0])
    slope_t = np.array([0.2, -0.1, 0.3, 0.0, 0.1, -0.2])
    rows = []
    n_t, n_c = len(a), len(a) + len(decoy)
    levels = np.r_[a, a + off, decoy]
    slopes = np.r_[slope_t, -slope_t, np.zeros(len(decoy))]
    for i in range(n_t + n_c):
        for t in (1, 2, 3):
            y = levels[i] + slopes[i] * (t - 1.5) + (1.0 if (i < n_t and t == 3) else 0)
            rows.append({"u": i, "t": t, "y": y, "g": 3.0 if i < n_t else np.nan})
    return pd.DataFrame(rows), levels, slopes, n_t


def test_imbalance_warning_counts_smd_above_01() -> None:
    df, levels, slopes, n_t = _design()
    n_c = len(levels) - n_t
    decoy = levels[2 * n_t :]
    res = matched_did(df, outcome="y", unit="u", time="t", cohort="g", match_on="level")

    # nearest never-treated by |level difference|: control n_t + i for treated i
    pre = np.array(
        [[levels[i] + slopes[i] * (t - 1.5) for t in (1, 2)] for i in range(n_t + n_c)]
    )
    lvl = pre.mean(axis=1)
    ctrl = np.flatnonzero(np.arange(n_t + n_c) >= n_t)
    nearest = [int(ctrl[np.argmin(np.abs(lvl[ctrl] - lvl[i]))]) for i in range(n_t)]
    assert nearest == list(range(n_t, 2 * n_t))
    assert sorted(zip(res.matched["treated"], res.matched["control"])) == [
        (i, n_t + i) for i in range(n_t)
    ]
    d = np.arange(n_t + n_c) < n_t
    w = np.r_[np.ones(2 * n_t), np.zeros(len(decoy))]
    cols = {"y (t=-2)": pre[:, 0], "y (t=-1)": pre[:, 1], "level (pre-period)": lvl}
    smd = {
        k: balance_row(v, d, w, estimand="ATT")["smd_after"] for k, v in cols.items()
    }
    big = {k: v for k, v in smd.items() if abs(v) > 0.1}
    assert big and all(abs(v) < 0.25 for v in big.values())
    worst = max(big, key=lambda k: abs(big[k]))
    msg = [m for m in res.warnings if m.startswith("Remaining imbalance")]
    assert msg == [
        f"Remaining imbalance: {len(big)} pre-period quantity(ies) with |SMD| > 0.1 "
        f"after matching (worst {worst})."
    ]


def test_result_reports_the_requested_level() -> None:
    # alpha = 0.1: the pair-clustered t interval of the six matched-pair effects
    # (treated change minus its control's change), mean -/+ t(0.95, 5) sd / sqrt(6),
    # and the summary and to_dict() state the 90% level asked for.
    df, levels, slopes, n_t = _design()
    res = matched_did(
        df, outcome="y", unit="u", time="t", cohort="g", match_on="level", alpha=0.1
    )
    y = df.pivot(index="u", columns="t", values="y").to_numpy()
    change = y[:, 2] - y[:, :2].mean(axis=1)
    tau = change[:n_t] - change[n_t : 2 * n_t]
    half = stats.t.ppf(0.95, n_t - 1) * tau.std(ddof=1) / np.sqrt(n_t)
    np.testing.assert_allclose(
        res.ci, (tau.mean() - half, tau.mean() + half), rtol=1e-9
    )
    assert res.alpha == 0.1
    assert "[90% conf. interval]" in res.summary()
    assert res.to_dict()["alpha"] == 0.1
