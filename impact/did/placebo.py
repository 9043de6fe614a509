"""Placebo in time for DiD results: refit with adoption moved earlier, pre-period data only.

The refit function (:func:`impact.did`) is passed in, so this module sits below the entry
point and the result class can use it without importing ``impact.did.api``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from impact._validation import check_positive_int
from impact.did._cohorts import cohort_index
from impact.errors import DataError, SpecError

if TYPE_CHECKING:
    from impact.did.results import DiDResult

__all__ = ["Refit", "cs_placebo_batch", "placebo_fit"]

FloatArray = NDArray[np.float64]

#: ``impact.did``'s signature: ``refit(data, **options) -> DiDResult``.
Refit = Callable[..., Any]


def placebo_fit(result: DiDResult, k: int, refit: Refit) -> DiDResult:
    """Placebo in time: pretend adoption ``k`` periods early, on pre-treatment data.

    Parameters
    ----------
    result : DiDResult
        The fitted result (it keeps its panel and call).
    k : int
        How many periods earlier the fake adoption is.
    refit : callable
        :func:`impact.did` (passed in so this module does not import the entry point).

    Returns
    -------
    DiDResult
        The placebo estimate.
    """
    k = check_positive_int("k", k, "DiDResult.placebo_in_time")
    panel = result._panel
    assert panel is not None
    call = dict(result._call)
    call["_diagnostics"] = False
    method = call.pop("method")
    if method == "dcdh":
        raise SpecError(
            "placebo_in_time() moves adoption dates, which a switching treatment does "
            "not have; method='dcdh' reports placebo effects (event times < -1) in "
            "its event study instead."
        )
    if method == "cs":
        wanted = call["inference"]
        if wanted != "bootstrap":
            call["inference"] = "analytic"
        res = refit(panel, method="cs", _placebo_k=k, **call)
        if wanted not in ("analytic", "bootstrap"):
            _cs_placebo_permutation(res, panel, k, wanted, call)
        res.warnings.insert(0, f"Placebo: adoption moved {k} period(s) earlier.")
        return res
    cidx = cohort_index(panel)
    first = int(np.nanmin(np.where(np.isfinite(cidx), cidx, np.nan)))
    if first < 2:
        raise DataError(
            "Placebo in time needs at least two periods before the first adoption; "
            f"the first cohort adopts in period {panel.periods[first]}."
        )
    keep = panel.periods[:first]
    fake = cidx - k
    fake = np.where(fake >= first, np.inf, fake)
    drop = np.isfinite(fake) & (fake < 1)
    labels = np.where(
        np.isfinite(fake[~drop]),
        panel.periods[
            np.clip(np.nan_to_num(fake[~drop], posinf=0).astype(int), 0, None)
        ],
        np.inf,
    )
    # fake cohorts first, then the pre-period window: every fake cohort falls inside
    # it, so the real ones are not reported as "treated after the last period"
    sub = panel.subset(units=panel.units[~drop]).with_cohort(labels.astype(float))
    sub = sub.subset(periods=keep)
    if not np.isfinite(sub.cohort).any():
        raise DataError(
            f"Placebo in time with k={k}: no cohort's fake adoption falls inside the "
            "pre-treatment window; use a smaller k."
        )
    res = refit(sub, method=method, **call)
    res.warnings.insert(0, f"Placebo: adoption moved {k} period(s) earlier.")
    return res


def cs_placebo_batch(
    fake_cells: Any,
    k: int,
    *,
    weights: FloatArray | None,
    control: str,
    anticipation: int,
    cell_weights: FloatArray | None = None,
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """``estimate_batch(Y, fake_cohorts)`` of the Callaway-Sant'Anna placebo ATT.

    The placebo moves each cohort ``k`` periods earlier and keeps the ATT(g,t) cells
    whose periods all precede the cohort's real adoption. Re-assigning the fake
    cohorts among units keeps the set of cells, so each cell is a difference of
    weighted mean changes (treated: fake cohort ``g``; comparisons: never treated, or
    not yet really treated), computed for every assignment at once; the ``"simple"``
    aggregate weights the post cells by their cohort's share, as
    :func:`impact.did.aggregate.aggregate_cs`.

    Parameters
    ----------
    fake_cells : CSFit
        The placebo fit (its cells: ``gidx``, ``tidx``, ``bidx``, ``post``,
        ``reference``), without covariates.
    k : int
        Periods the adoption was moved.
    weights : ndarray (N,), optional
        Unit weights.
    control : {"never", "notyet"}
        Comparison group.
    anticipation : int
        Periods of anticipation.
    cell_weights : ndarray (N, T), optional
        Unbalanced panel: weight of each cell, 0 where the row is missing (``Y``
        then finite everywhere); each cell compares the means of the rows that exist
        in its two periods.

    Returns
    -------
    callable
        ``(Y (N, T), fake cohort index (B, N)) -> (B,)``.
    """
    gidx = np.asarray(fake_cells.gidx)
    tidx = np.asarray(fake_cells.tidx)
    bidx = np.asarray(fake_cells.bidx)
    keep = np.asarray(fake_cells.post) & ~np.asarray(fake_cells.reference)

    def batch(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
        C = np.atleast_2d(np.asarray(cohorts, dtype=float))
        n = C.shape[1]
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
        never = ~np.isfinite(C)
        real = C + k
        num = np.zeros(C.shape[0])
        den = np.zeros(C.shape[0])
        for g, t, b in zip(gidx[keep], tidx[keep], bidx[keep], strict=True):
            treat = C == g
            if control == "never":
                ctrl = never
            else:
                ctrl = never | ((real > max(t, b) + anticipation) & ~treat)
            w1, w0 = treat * w, ctrl * w
            with np.errstate(invalid="ignore", divide="ignore"):
                if cell_weights is None:
                    delta = Y[:, t] - Y[:, b]
                    att = (w1 @ delta) / w1.sum(axis=1) - (w0 @ delta) / w0.sum(axis=1)
                else:
                    att = np.zeros(C.shape[0])
                    for col, sign in ((t, 1.0), (b, -1.0)):
                        wt = treat * cell_weights[:, col]
                        wc = ctrl * cell_weights[:, col]
                        att += sign * (
                            (wt @ Y[:, col]) / wt.sum(axis=1)
                            - (wc @ Y[:, col]) / wc.sum(axis=1)
                        )
            share = w1.sum(axis=1)
            ok = np.isfinite(att)
            num += np.where(ok, share * att, 0.0)
            den += np.where(ok, share, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(num / den)

    return batch


def _cs_placebo_permutation(
    res: Any, panel: Any, k: int, wanted: str, call: dict[str, Any]
) -> None:
    """Replace the analytic inference of a CS placebo by randomization inference.

    ``wanted`` is the headline's ``inference`` option: ``"auto"`` follows
    :func:`impact.inference.few_treated_rule`; ``"wild"`` and ``"permutation"`` both
    use randomization inference (the placebo's design moves with the fake cohorts,
    so there is no fixed weight matrix for the wild bootstrap).
    """
    from impact.inference import (
        few_treated_rule,
        permutation_inference,
        treatment_matrix,
    )

    clusters = panel.clusters
    ever = np.isfinite(panel.cohort)
    n_cl = len(np.unique(clusters))
    n_tr = len(np.unique(clusters[ever]))
    if wanted == "auto":
        rule = few_treated_rule(n_tr, n_cl)[0] if 0 < n_tr < n_cl else "analytic"
        if rule == "analytic":
            return
        res.warnings[:] = [w for w in res.warnings if "SEs over-reject" not in w]
    st = res._cs
    fake = np.asarray(st["cohort_idx"], dtype=float)
    gappy = panel.has_gaps
    panel = panel.rows_view()  # gaps: zero-weight cells, the rows that exist
    if call.get("covariates"):
        batch = _cs_placebo_refits(panel, k, call, st["unit_weights"])
    else:
        batch = cs_placebo_batch(
            st["fit"],
            k,
            weights=st["unit_weights"],
            control=call["control"],
            anticipation=int(call["anticipation"]),
            cell_weights=panel.W if gappy else None,
        )
    D = treatment_matrix(fake, np.arange(panel.n_periods)).astype(float)
    out = permutation_inference(
        panel.Y,
        fake,
        batch,
        D=D,
        n_perm=max(int(call["n_boot"]), 19),
        alpha=float(call["alpha"]),
        seed=call["seed"],
        linear=None if call.get("covariates") else True,
    )
    res.se = float(out.se)
    res.ci = (float(out.ci[0]), float(out.ci[1]))
    res.pvalue = float(out.pvalue)
    res.inference = out.method
    res.inference_details = {
        "n_draws": out.n_draws,
        "exact": out.exact,
        **{key: v for key, v in out.details.items() if key != "distribution"},
    }
    res.warnings.extend(w for w in out.warnings if w not in res.warnings)
    res.warnings.append(
        "Placebo: only its overall estimate uses randomization inference; its "
        "ATT(g,t) rows and aggregations show analytic standard errors, which "
        "over-reject with few treated units."
    )


def _cs_placebo_refits(
    panel: Any, k: int, call: dict[str, Any], weights: FloatArray | None
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """Placebo CS with covariates: one refit per assignment (non-linear fallback)."""
    from impact.did.aggregate import aggregate_cs
    from impact.did.cs import compute_att_gt

    X = np.stack([panel.X[c] for c in call["covariates"]], axis=2)

    def batch(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
        C = np.atleast_2d(np.asarray(cohorts, dtype=float))
        out = np.empty(C.shape[0])
        for j, c in enumerate(C):
            fit = compute_att_gt(
                Y,
                c,
                panel.periods,
                weights=weights,
                X=X,
                control=call["control"],
                est_method=call["est_method"],
                anticipation=int(call["anticipation"]),
                base_period=call["base_period"],
                real_idx=c + k,
            )
            out[j] = aggregate_cs(fit, c, weights, "simple").overall
        return out

    return batch
