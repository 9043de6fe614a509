"""Dispatch for the heterogeneity-robust estimators added to :func:`impact.did`.

``"imputation"`` (Borusyak, Jaravel and Spiess 2024), ``"did2s"`` (Gardner 2022),
``"etwfe"`` (Wooldridge 2021/2023, linear or Poisson), ``"stacked"`` (Wing, Freedman
and Hollingsworth 2024) and ``"dcdh"`` (de Chaisemartin and D'Haultfoeuille). Each
estimator lives in its own module; this one fits them and gives the shared
few-treated inference what it needs: the weight matrix ``A`` (estimate =
``sum(A * Y)``) for the wild bootstrap and a batch function over cohort
re-assignments for randomization inference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from impact._validation import check_option
from impact.did.results import DiDResult
from impact.errors import SpecError

__all__ = [
    "MODERN_METHODS",
    "fit_modern",
    "is_linear_modern",
    "modern_batch",
    "modern_weight_matrix",
]

FloatArray = NDArray[np.float64]
MODERN_METHODS = ("imputation", "did2s", "etwfe", "stacked", "dcdh")


def check_modern_options(method: str, call: dict[str, Any], covariates: Any) -> None:
    """Validate the options of the modern estimators (clear errors for the rest)."""
    family = call.get("family")
    if family is not None:
        check_option("family", family, ["linear", "poisson"], "did")
        if method != "etwfe":
            raise SpecError(
                f"family= is an option of method='etwfe'; got method={method!r}."
            )
    if call.get("window") is not None and method not in ("stacked", "dcdh"):
        raise SpecError(
            "window= is an option of method='stacked' and 'dcdh'; got "
            f"method={method!r}."
        )
    if method in ("stacked", "dcdh") and covariates:
        raise SpecError(
            f"method={method!r} takes no covariates here; use method='imputation', "
            "'did2s' or 'etwfe' for covariate adjustment."
        )
    if call.get("anticipation"):
        raise SpecError(
            f"anticipation= is supported by method='cs' only; got method={method!r}."
        )


def fit_modern(
    panel: Any,
    cidx: FloatArray,
    X: FloatArray | None,
    codes: NDArray[np.intp] | None,
    call: dict[str, Any],
    warns: list[str],
) -> DiDResult:
    """Fit ``call["method"]`` on the panel.

    Parameters
    ----------
    panel : Panel
        The data.
    cidx : ndarray (N,)
        Cohort index per unit (inf = never treated).
    X : ndarray (N, T, p), optional
        Covariates.
    codes : ndarray of int, optional
        Cluster codes.
    call : dict
        The options of the :func:`impact.did` call.
    warns : list of str
        Warnings so far.

    Returns
    -------
    DiDResult
        The fitted result.
    """
    method = call["method"]
    alpha = call["alpha"]
    if method == "imputation":
        from impact.did.imputation import fit_imputation_result

        return fit_imputation_result(
            panel, cidx, X, codes, method="imputation", alpha=alpha, warns=warns
        )
    if method == "did2s":
        from impact.did.did2s import fit_did2s

        return fit_did2s(panel, cidx, X, codes, alpha=alpha, warns=warns)
    if method == "etwfe":
        if call.get("family", "linear") == "poisson":
            if X is not None:
                raise SpecError(
                    "family='poisson' takes no covariates here; use family='linear' "
                    "for covariate adjustment."
                )
            if panel.weights_col is not None:  # (gaps alone give W as a mask)
                raise SpecError(
                    "family='poisson' takes no weights=: give the population as "
                    "denominator= (it becomes the exposure)."
                )
            from impact.did.etwfe_poisson import fit_etwfe_poisson

            return fit_etwfe_poisson(
                panel,
                cidx,
                codes,
                control=call["control"],
                alpha=alpha,
                warns=warns,
                call=call,
            )
        from impact.did.etwfe import fit_etwfe

        return fit_etwfe(
            panel, cidx, X, codes, control=call["control"], alpha=alpha, warns=warns
        )
    if method == "stacked":
        from impact.did.stacked import fit_stacked

        result = fit_stacked(
            panel,
            cidx,
            codes,
            control=call["control"],
            window=call.get("window"),
            alpha=alpha,
            warns=warns,
        )
        call["window"] = result.options["window"]  # inference re-uses this window
        return result
    from impact.did.dcdh import fit_dcdh

    return fit_dcdh(
        panel,
        call["_treatment_matrix"],
        codes,
        window=call.get("window"),
        alpha=alpha,
        warns=warns,
    )


def is_linear_modern(method: str, call: dict[str, Any]) -> bool:
    """Whether the estimate is linear in the outcome (wild bootstrap possible)."""
    return not (method == "etwfe" and call.get("family") == "poisson")


def modern_weight_matrix(
    method: str,
    panel: Any,
    cidx: FloatArray,
    X: FloatArray | None,
    call: dict[str, Any],
) -> FloatArray:
    """``A`` (N, T) with ``estimate = sum(A * Y)`` for the observed assignment."""
    if method in ("imputation", "did2s"):
        from impact.did.imputation import imputation_weight_matrix

        return imputation_weight_matrix(panel, cidx, X)
    if method == "etwfe":
        if X is None:
            from impact.did.imputation import imputation_weight_matrix

            return imputation_weight_matrix(panel, cidx, None, call["control"])
        from impact.did.etwfe import etwfe_weight_matrix

        return etwfe_weight_matrix(panel, cidx, X, call["control"])
    if method == "stacked":
        from impact.did.stacked import stacked_weight_matrix

        return stacked_weight_matrix(panel, cidx, call["control"], call.get("window"))
    from impact.did.dcdh import dcdh_weight_matrix

    return dcdh_weight_matrix(call["_treatment_matrix"])


def modern_batch(
    method: str, panel: Any, X: FloatArray | None, call: dict[str, Any]
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """``estimate_batch(Y, cohorts (B, N)) -> (B,)`` for randomization inference."""
    periods = panel.periods

    def to_idx(cohorts: FloatArray) -> FloatArray:
        c = np.atleast_2d(np.asarray(cohorts, dtype=float))
        out = np.full(c.shape, np.inf)
        fin = np.isfinite(c)
        out[fin] = np.searchsorted(periods, c[fin])
        return out

    if method in ("imputation", "did2s") or (
        method == "etwfe" and X is None and call.get("family", "linear") == "linear"
    ):
        from impact.did.imputation import make_imputation_batch

        control = "notyet" if method != "etwfe" else call["control"]
        return make_imputation_batch(panel, X, control)

    if method == "etwfe" and call.get("family") == "poisson":
        from impact.did.etwfe_poisson import poisson_batch_att, poisson_counts

        _, exposure = poisson_counts(panel, call)
        rate = panel.rate_scale if panel.denominator is not None else None
        control_p = call["control"]

        def batch_poisson(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
            c = to_idx(cohorts)
            counts = Y * exposure / rate if rate is not None else Y
            return poisson_batch_att(counts, exposure, c, control_p, rate)

        return batch_poisson

    if method == "stacked":
        from impact.did.stacked import resolve_window, stacked_batch

        W = panel.W
        w = np.ones(panel.Y.shape) if W is None else np.asarray(W, dtype=float)
        control = call["control"]

        def batch_stacked(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
            c = to_idx(cohorts)
            pre, post = resolve_window(call.get("window"), c[0], Y.shape[1], control, w)
            return stacked_batch(Y, c, w, control, pre, post)

        return batch_stacked

    def batch_refit(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
        c = to_idx(cohorts)
        out = np.empty(c.shape[0])
        sub_call = {**call, "inference": "analytic"}
        for j in range(c.shape[0]):  # the design changes with each assignment
            # never treated (inf) index period 0 here; np.where then gives them inf
            idx = np.nan_to_num(c[j], posinf=0).astype(int)
            shuffled = panel.with_outcome(Y).with_cohort(
                np.where(np.isfinite(c[j]), periods[idx], np.inf)
            )
            res = fit_modern(shuffled, c[j], X, None, sub_call, [])
            out[j] = res.estimate
        return out

    return batch_refit
