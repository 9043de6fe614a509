"""de Chaisemartin and D'Haultfoeuille's DiD for treatments that switch on and off.

The headline is ``DID_M`` (de Chaisemartin and D'Haultfoeuille 2020, AER 110(9),
eq. 3): in every period ``t``, units whose treatment switches on ("joiners",
``D_{t-1} = 0, D_t = 1``) are compared with units untreated in both periods, and
units whose treatment switches off ("leavers") with units treated in both; the
per-period DiDs are averaged with weights proportional to the number of switchers.
A period with joiners but no stable untreated unit (or leavers but no stable treated
unit) contributes zero but keeps its switchers in the denominator (their Assumption
11 convention).

The event study holds the dynamic effects ``DID_l`` and placebos ``DID^pl_l`` of the
companion paper (de Chaisemartin and D'Haultfoeuille 2024, REStat, "Difference-in-
differences estimators of intertemporal treatment effects", eqs. 3-5): for a unit
whose treatment first changes in period ``F``, the change in its outcome from
``F - 1`` to ``F - 1 + l`` (or back to ``F - 1 - l`` for a placebo) minus the same
change averaged over units with the same initial treatment that have not switched
by ``F - 1 + l``, signed by the direction of the switch. Effect ``l`` is event time
``l - 1``; placebo ``l`` is event time ``-1 - l``; ``-1`` is the reference.

Units whose treatment changes more than once are dropped (as R ``DIDmultiplegtDYN``
and diff-diff do by default): their later outcomes mix the effects of several
switches. Standard errors are the cohort-recentred plug-in of the companion paper
(Web Appendix 3.7.3): each unit's contribution to the estimate, centred within its
cohort (initial treatment, first-switch period, direction), squared and summed;
units whose initial treatment no other unit shares are left out of the variance.
Every estimate is linear in the outcome (``sum(A * Y)``), which the wild bootstrap
uses; randomization inference re-assigns whole treatment paths across units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from impact.did._cohorts import parse_window
from impact.did.results import DiDResult, _Linear
from impact.errors import DataError, SpecError
from impact.panel_checks import _r

__all__ = [
    "DcdhDesign",
    "dcdh_batch",
    "dcdh_design",
    "dcdh_weight_matrix",
    "did_m_weights",
    "fit_dcdh",
    "treatment_matrix_from_frame",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def treatment_matrix_from_frame(
    data: pd.DataFrame, panel: Any, treated: str
) -> FloatArray:
    """The 0/1 treatment ``treated`` on the panel's (unit, period) grid.

    Parameters
    ----------
    data : DataFrame
        The long data the panel was built from.
    panel : Panel
        The validated panel (units and periods kept).
    treated : str
        The 0/1 treatment column (may switch on and off).

    Returns
    -------
    ndarray (N, T)
        The treatment of every unit in every period.
    """
    if treated not in data.columns:
        raise DataError(f"Column {treated!r} (treated=) not found in the data.")
    d = pd.to_numeric(data[treated], errors="coerce")
    bad = ~d.isin([0, 1])
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])  # per column: keeps each dtype
        raise DataError(
            f"Column {treated!r} (treated=) must be 0 or 1; found "
            f"{_r(data[treated].iloc[pos])} at {panel.unit}="
            f"{_r(data[panel.unit].iloc[pos])}, {panel.time}="
            f"{_r(data[panel.time].iloc[pos])}."
        )
    ui = pd.Index(panel.units).get_indexer(data[panel.unit])
    ti = pd.Index(panel.periods).get_indexer(data[panel.time])
    keep = (ui >= 0) & (ti >= 0)
    D = np.full(panel.Y.shape, np.nan)
    D[ui[keep], ti[keep]] = d.to_numpy(dtype=float)[keep]
    return D


@dataclass
class DcdhDesign:
    """Switching structure of a treatment matrix.

    Attributes
    ----------
    baseline : ndarray (N,)
        Treatment in the first period.
    first : ndarray of int (N,)
        Index of the first period whose treatment differs from the previous one
        (-1 = never switches).
    direction : ndarray of int (N,)
        +1 switches on, -1 switches off, 0 never switches.
    cohort : ndarray of int (N,)
        Variance cohort (initial treatment, first switch, direction); -1 for units
        left out of the variance (initial treatment shared by no other unit).
    """

    baseline: FloatArray
    first: IntArray
    direction: IntArray
    cohort: IntArray


def dcdh_design(D: FloatArray) -> DcdhDesign:
    """Baseline, first switch, direction and variance cohort of each unit."""
    n, n_t = D.shape
    change = np.diff(D, axis=1) != 0
    has = change.any(axis=1)
    first = np.where(has, change.argmax(axis=1) + 1, -1).astype(np.intp)
    rows = np.arange(n)
    step = np.where(
        has, D[rows, np.maximum(first, 1)] - D[rows, np.maximum(first, 1) - 1], 0
    )
    direction = np.sign(step).astype(np.intp)
    baseline = D[:, 0].astype(float)
    values, counts = np.unique(baseline, return_counts=True)
    single = np.isin(baseline, values[counts < 2])
    keys = np.stack([baseline, first, direction], axis=1)
    _, cohort = np.unique(keys, axis=0, return_inverse=True)
    cohort = np.where(single, -1, cohort.ravel()).astype(np.intp)
    return DcdhDesign(baseline, first, direction, cohort)


def did_m_weights(D: FloatArray) -> tuple[FloatArray, int, list[int]]:
    """``A`` with ``DID_M = sum(A * Y)``, the number of switches, and the periods
    whose switchers had no stable comparison unit (their DiD counts as zero).

    Parameters
    ----------
    D : ndarray (N, T)
        0/1 treatment.

    Returns
    -------
    A : ndarray (N, T)
        Weights (zero when nobody switches).
    n_switches : int
        Joiner and leaver cells (the denominator ``N_S``).
    zeroed : list of int
        Period indices with switchers but no stable comparison.
    """
    n, n_t = D.shape
    A = np.zeros((n, n_t))
    n_s = 0
    zeroed: list[int] = []
    for t in range(1, n_t):
        prev, cur = D[:, t - 1], D[:, t]
        roles = (
            ((prev == 0) & (cur == 1), (prev == 0) & (cur == 0), 1.0),
            ((prev == 1) & (cur == 0), (prev == 1) & (cur == 1), -1.0),
        )
        for switch, stable, sign in roles:
            k, m = int(switch.sum()), int(stable.sum())
            n_s += k
            if k == 0:
                continue
            if m == 0:
                zeroed.append(t)
                continue
            A[switch, t] += sign
            A[switch, t - 1] -= sign
            A[stable, t] -= sign * k / m
            A[stable, t - 1] += sign * k / m
    if n_s:
        A /= n_s
    return A, n_s, zeroed


def _horizon_weights(
    des: DcdhDesign, n_t: int, lag: int, placebo: bool
) -> tuple[FloatArray, int]:
    """``A`` of ``DID_l`` (or the placebo ``DID^pl_l``) and its number of switchers."""
    n = len(des.first)
    A = np.zeros((n, n_t))
    count = 0
    switchers = des.first >= 0
    for b in np.unique(des.baseline):
        same = des.baseline == b
        for f in np.unique(des.first[same & switchers]):
            members = same & (des.first == f)
            ref = int(f) - 1
            fwd = ref + lag
            out = ref - lag if placebo else fwd
            if out < 0 or fwd >= n_t:
                continue
            pool = same & ((des.first > fwd) | (des.first < 0))
            n_pool = int(pool.sum())
            if n_pool == 0:
                continue
            s = des.direction[members].astype(float)
            A[members, out] += s
            A[members, ref] -= s
            A[pool, out] -= s.sum() / n_pool
            A[pool, ref] += s.sum() / n_pool
            count += int(members.sum())
    if count:
        A /= count
    return A, count


def _centred_contributions(
    A: FloatArray, Y: FloatArray, des: DcdhDesign, codes: IntArray | None
) -> FloatArray:
    """Cohort-centred contributions ``sum_t A * Y`` per unit (per cluster)."""
    u = (A * Y).sum(axis=1)
    keep = des.cohort >= 0
    coh = des.cohort[keep]
    sums = np.bincount(coh, weights=u[keep])
    sizes = np.bincount(coh)
    centred = np.zeros_like(u)
    centred[keep] = u[keep] - sums[coh] / sizes[coh]
    if codes is None:
        return centred
    out = np.zeros(int(codes.max()) + 1)
    np.add.at(out, codes, centred)
    return out


def _resolve_window(window: Any, des: DcdhDesign, n_t: int) -> tuple[int, int]:
    """(pre, post): placebos ``1..pre-1`` and effects ``1..post+1``."""
    if window is not None:
        return parse_window(window, "dcdh")
    post = 0
    while post + 2 <= n_t - 1 and _horizon_weights(des, n_t, post + 2, False)[1] > 0:
        post += 1
    pre = 1
    while _horizon_weights(des, n_t, pre, True)[1] > 0 and pre < n_t:
        pre += 1
    return pre, post


def fit_dcdh(
    panel: Any,
    D: FloatArray,
    codes: IntArray | None,
    *,
    window: Any,
    alpha: float,
    warns: list[str],
) -> DiDResult:
    """``DID_M`` with the dynamic effects and placebos (see the module docstring).

    Parameters
    ----------
    panel : Panel
        The data (units whose treatment changes more than once already dropped).
    D : ndarray (N, T)
        0/1 treatment of each unit in each period.
    codes : ndarray of int, optional
        Cluster codes (default: units).
    window : None, int or (int, int)
        ``(pre, post)``: placebos at event times ``-pre .. -2`` and effects at
        ``0 .. post``. None: every horizon with at least one switcher.
    alpha : float
        One minus the confidence level.
    warns : list of str
        Warnings so far (extended in place).

    Returns
    -------
    DiDResult
        Headline ``DID_M``; ``event_study`` and ``aggregate("dynamic")`` hold the
        dynamic effects and placebos.
    """
    Y = panel.Y
    n, n_t = Y.shape
    des = dcdh_design(D)
    A_m, n_s, zeroed = did_m_weights(D)
    if n_s == 0:
        raise DataError(
            "The treatment never changes: method='dcdh' needs units whose treatment "
            "switches on or off during the panel."
        )
    if zeroed:
        shown = ", ".join(str(int(panel.periods[t])) for t in sorted(set(zeroed)))
        warns.append(
            f"Period(s) {shown} have switchers but no unit with the same treatment "
            "in both periods to compare with: their DiD counts as zero in DID_M (de "
            "Chaisemartin and D'Haultfoeuille's convention), pulling it towards zero."
        )
    if (des.cohort < 0).any():
        warns.append(
            f"{int((des.cohort < 0).sum())} unit(s) have an initial treatment no other "
            "unit shares; they are left out of the variance (not of the estimate)."
        )
    u_m = _centred_contributions(A_m, Y, des, codes)
    estimate = float((A_m * Y).sum())
    se = float(np.sqrt((u_m**2).sum()))
    pre, post = _resolve_window(window, des, n_t)
    rows: list[tuple[int, FloatArray, int]] = []
    for lag in range(pre - 1, 0, -1):
        A_l, c = _horizon_weights(des, n_t, lag, True)
        if c:
            rows.append((-1 - lag, A_l, c))
    for lag in range(1, post + 2):
        A_l, c = _horizon_weights(des, n_t, lag, False)
        if c:
            rows.append((lag - 1, A_l, c))
    if not rows:
        raise DataError(
            "No switcher has a comparison unit with the same initial treatment that "
            "has not switched yet; DID_M is reported but no dynamic effect is."
        )
    e = np.array([r[0] for r in rows], dtype=float)
    A_all = np.stack([r[1] for r in rows])
    sizes = np.array([r[2] for r in rows], dtype=float)
    theta = np.einsum("knt,nt->k", A_all, Y)
    U = np.stack([_centred_contributions(a, Y, des, codes) for a in A_all], axis=1)
    V = U.T @ U
    lin = _Linear(
        theta,
        V,
        np.full(len(e), np.nan),
        np.full(len(e), np.nan),
        e,
        sizes,
        [-1],
        overall=(estimate, se),
    )
    z = special.ndtri(1 - alpha / 2)
    se_k = np.sqrt(np.diag(V))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(se_k > 0, theta / se_k, np.nan)
    table = pd.DataFrame(
        {
            "term": [f"event_time={int(v)}" for v in e],
            "event_time": e.astype(int),
            "estimate": theta,
            "std_error": se_k,
            "statistic": stat,
            "p_value": 2 * special.ndtr(-np.abs(stat)),
            "conf_low": theta - z * se_k,
            "conf_high": theta + z * se_k,
            "reference": False,
            "n_switchers": sizes.astype(int),
        }
    )
    ref = pd.DataFrame(
        {
            "term": ["event_time=-1"],
            "event_time": [-1],
            "estimate": [0.0],
            "reference": [True],
        }
    )
    table = pd.concat([table, ref]).sort_values("event_time").reset_index(drop=True)
    switchers = des.first >= 0
    result = DiDResult(
        method="dcdh",
        estimate=estimate,
        se=se,
        n_treated=int(switchers.sum()),
        n_control=int((~switchers).sum()),
        alpha=alpha,
        warnings=warns,
        options={"window": (pre, post)},
        event_study=table,
        linear_state=lin,
        panel=panel,
    )
    result.inference_details["switches"] = {
        "cells": n_s,
        "joiners": int((des.direction > 0).sum()),
        "leavers": int((des.direction < 0).sum()),
    }
    return result


def dcdh_weight_matrix(D: FloatArray) -> FloatArray:
    """``A`` (N, T) with ``DID_M = sum(A * Y)`` (wild bootstrap)."""
    return did_m_weights(D)[0]


def path_labels(D: FloatArray) -> FloatArray:
    """One label per distinct treatment path (inf for never-treated units)."""
    _, inv = np.unique(D, axis=0, return_inverse=True)
    lab = inv.ravel().astype(float)
    return np.where(D.any(axis=1), lab, np.inf)


def dcdh_batch(D: FloatArray) -> Any:
    """``estimate_batch(Y, labels (B, N))`` for randomization inference: each label
    is a treatment path (from :func:`path_labels`), re-assigned across units."""
    labels = path_labels(D)
    lab_vals = np.unique(labels)
    paths = np.stack([D[np.flatnonzero(labels == v)[0]] for v in lab_vals])

    def batch(Y: FloatArray, assign: FloatArray) -> FloatArray:
        a = np.atleast_2d(assign)
        idx = np.searchsorted(lab_vals, a)
        Db = paths[idx]  # (B, N, T)
        dY = np.diff(Y, axis=1)
        prev, cur = Db[:, :, :-1], Db[:, :, 1:]
        num = np.zeros(a.shape[0])
        n_s = np.zeros(a.shape[0])
        for p, c, sign in ((0, 1, 1.0), (1, 0, -1.0)):
            sw = (prev == p) & (cur == c)
            st = (prev == p) & (cur == p)
            k, m = sw.sum(axis=1), st.sum(axis=1)
            s_sw = np.einsum("bnt,nt->bt", sw, dY)
            s_st = np.einsum("bnt,nt->bt", st, dY)
            with np.errstate(divide="ignore", invalid="ignore"):
                did = np.where((k > 0) & (m > 0), s_sw / k - s_st / np.maximum(m, 1), 0)
            num += sign * (k * did).sum(axis=1)
            n_s += k.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(num / n_s)

    return batch


def prepare_dcdh(
    data: Any,
    *,
    treatment: FloatArray | None,
    warns: list[str],
    **columns: Any,
) -> tuple[Any, FloatArray]:
    """Build the panel and the (possibly switching) treatment matrix for ``"dcdh"``.

    Parameters
    ----------
    data : DataFrame or Panel
        The data. From a Panel (or with ``cohort=``) the treatment is absorbing.
    treatment : ndarray (N, T), optional
        A treatment matrix already built for this panel (refits).
    warns : list of str
        Warnings (extended in place).
    **columns
        The column keyword arguments of :class:`impact.Panel` (``treated=`` may
        switch on and off).

    Returns
    -------
    panel : Panel
        The panel without the units whose treatment changes more than once, with
        ``cohort`` = first treated period (for counting treated units).
    D : ndarray (N, T)
        Treatment of the remaining units.
    """
    from impact.panel import Panel, as_panel

    treated = columns.pop("treated", None)
    if isinstance(data, Panel):
        panel = data
        D = panel.D.astype(float) if treatment is None else np.asarray(treatment)
    elif treated is None:
        panel = as_panel(data, **columns)
        D = panel.D.astype(float)
    else:
        columns.pop("cohort", None)
        panel = as_panel(data, **columns)
        D = treatment_matrix_from_frame(data, panel, treated)
        if np.isnan(D).any():
            i, t = np.argwhere(np.isnan(D))[0]
            raise DataError(
                f"Column {treated!r} (treated=) is missing for {panel.unit}="
                f"{_r(panel.units[i])}, {panel.time}={_r(panel.periods[t])}; fill it in."
            )
    if panel.W is not None:
        raise SpecError(
            "method='dcdh' weighs every unit and period equally (as R "
            "DIDmultiplegtDYN and diff-diff without survey weights); drop weights=."
        )
    changes = (np.diff(D, axis=1) != 0).sum(axis=1)
    multi = changes > 1
    if multi.any():
        names = ", ".join(str(u) for u in panel.units[multi][:5])
        warns.append(
            f"Dropped {int(multi.sum())} unit(s) whose treatment changes more than "
            f"once ({names}{', ...' if multi.sum() > 5 else ''}): their later "
            "outcomes mix the effects of several switches (as R DIDmultiplegtDYN)."
        )
        if multi.all():
            raise DataError(
                "Every unit's treatment changes more than once; method='dcdh' uses "
                "units that switch at most once."
            )
        panel = panel.subset(units=panel.units[~multi])
        D = D[~multi]
    on = D > 0
    first_on = np.where(on.any(axis=1), panel.periods[on.argmax(axis=1)], np.inf)
    # units on from the first period stay: their treatment may switch off
    panel = panel._replace_cohort(first_on.astype(float))
    return panel, D
