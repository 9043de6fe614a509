"""Rambachan-Roth "honest" sensitivity analysis for violations of parallel trends.

Given event-study coefficients (pre-periods then post-periods, the reference period
excluded) and their covariance, :func:`honest_sensitivity` returns confidence intervals
for a target ``theta = l' tau_post`` that stay valid when parallel trends fails in a
bounded way:

- ``method="smoothness"``: Delta^SD(M), the slope of the differential trend changes by at
  most ``M`` (outcome units) between consecutive periods; ``M = 0`` allows exactly linear
  trends. Intervals are the optimal fixed-length confidence intervals (FLCI, Armstrong
  and Kolesar 2018), HonestDiD's default for this restriction.
- ``method="relative_magnitude"``: Delta^RM(Mbar), each post-period change in the
  violation is at most ``Mbar`` times the largest pre-period change. Intervals are the
  conditional least-favourable hybrid (C-LF) sets of Andrews, Roth and Pakes (2023),
  HonestDiD's default for this restriction.

Reference: Rambachan, A. and Roth, J. (2023), "A More Credible Approach to Parallel
Trends", Review of Economic Studies 90(5), 2555-2591; the R package HonestDiD.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from impact._validation import (
    check_alpha,
    check_draws,
    check_option,
    check_positive_int,
)
from impact.errors import DataError, SpecError
from impact.parallel import as_generator
from impact.plots import axes_or_new
from impact.results import jsonable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FloatArray = NDArray[np.float64]

__all__ = ["SensitivityResult", "honest_sensitivity"]

_CALLER = "honest_sensitivity"
_WIDTH = 78


def honest_sensitivity(
    betahat: Any,
    sigma: Any,
    *,
    num_pre: int,
    num_post: int,
    method: str = "smoothness",
    M: Any = None,
    Mbar: Any = None,
    l_vec: Any = None,
    alpha: float = 0.05,
    grid_points: int = 1000,
    n_sims: int = 10_000,
    seed: int | np.random.Generator | None = 0,
    refine: bool = True,
) -> SensitivityResult:
    """Honest confidence intervals under bounded violations of parallel trends.

    Parameters
    ----------
    betahat : array-like
        Event-study coefficients, the ``num_pre`` pre-period ones (earliest first) then
        the ``num_post`` post-period ones; the reference period (the last pre-period,
        normalised to zero) is excluded.
    sigma : array-like
        Their covariance matrix, shape ``(num_pre + num_post, num_pre + num_post)``.
    num_pre, num_post : int
        Numbers of pre- and post-period coefficients (both >= 1).
    method : {"smoothness", "relative_magnitude"}, default "smoothness"
        The restriction on the trend violation (see the module docstring).
    M : float or sequence of float, optional
        Smoothness bounds (outcome units per period squared), >= 0. Default: 10 values
        from 0 to the one-sided 95% upper bound of the largest pre-period second
        difference (HonestDiD's default); with one pre-period, 0 to its standard error.
    Mbar : float or sequence of float, optional
        Relative-magnitude bounds, >= 0. Default: 10 values from 0 to 2.
    l_vec : array-like, optional
        Weights on the post-period effects defining ``theta = l' tau_post``; default the
        first post-period effect. ``np.full(num_post, 1 / num_post)`` targets the average.
    alpha : float, default 0.05
        One minus the coverage.
    grid_points : int, default 1000
        Relative magnitudes only: points of the test-inversion grid, which spans the
        identified set at ``betahat`` widened by 20 standard errors of the target on
        each side (HonestDiD 0.2.6's grid).
    n_sims : int, default 10000
        Relative magnitudes only: normal draws for the least-favourable critical value
        (HonestDiD uses 1000; more draws reduce the Monte Carlo noise in the ends).
    seed : int, numpy Generator or None, default 0
        Relative magnitudes only: seed of those draws (fixed by default, so the same
        inputs give the same intervals).
    refine : bool, default True
        Relative magnitudes only: narrow each end of the set between its two grid
        neighbours (to about 1e-5 of a grid step). False reports the extreme accepted
        grid points, as HonestDiD does.

    Returns
    -------
    SensitivityResult
        ``.table`` (the original CI then one row per M or Mbar), ``.breakdown``,
        ``.plot()``, ``.to_frame()``, ``.summary()``.

    Raises
    ------
    SpecError
        Unknown ``method``, bad counts, grids or ``l_vec``, or ``M`` given with
        ``method="relative_magnitude"`` (and ``Mbar`` with ``"smoothness"``).
    DataError
        ``betahat``/``sigma`` of the wrong shape, non-finite, or ``sigma`` not a
        symmetric positive semi-definite matrix.
    EstimationError
        When an interval cannot be computed (degenerate covariance, too many
        post-periods for the relative-magnitude vertex enumeration).

    Examples
    --------
    >>> import numpy as np
    >>> beta = np.array([0.01, -0.005, 0.0, 0.05, 0.07])
    >>> sigma = np.diag([1e-4] * 5)
    >>> res = honest_sensitivity(beta, sigma, num_pre=3, num_post=2, M=[0, 0.01])
    >>> list(res.table["method"])
    ['Original', 'FLCI', 'FLCI']
    """
    check_option("method", method, ["smoothness", "relative_magnitude"], _CALLER)
    alpha = check_alpha(alpha, _CALLER)
    num_pre = check_positive_int("num_pre", num_pre, _CALLER)
    num_post = check_positive_int("num_post", num_post, _CALLER)
    grid_points = check_positive_int("grid_points", grid_points, _CALLER, minimum=10)
    n_sims = check_draws("n_sims", n_sims, _CALLER, minimum=100)
    beta, sig = _check_inputs(betahat, sigma, num_pre, num_post)
    lv = _check_l_vec(l_vec, num_post)

    if method == "smoothness":
        if Mbar is not None:
            raise SpecError(
                "Mbar is the relative-magnitude bound; with method='smoothness' pass "
                "M=..., or use method='relative_magnitude'."
            )
        values = _default_M(beta, sig, num_pre) if M is None else _check_grid("M", M)
    else:
        if M is not None:
            raise SpecError(
                "M is the smoothness bound; with method='relative_magnitude' pass "
                "Mbar=..., or use method='smoothness'."
            )
        values = (
            np.linspace(0.0, 2.0, 10) if Mbar is None else _check_grid("Mbar", Mbar)
        )

    warnings: list[str] = []
    if method == "smoothness":
        from impact.did._honest_flci import flci

        lows, highs, _ = flci(beta, sig, num_pre, lv, values, alpha)
        label, param = "FLCI", "M"
    else:
        from impact.did._honest_rm import rm_confidence_sets

        lows, highs, warnings = rm_confidence_sets(
            beta,
            sig,
            num_pre,
            num_post,
            lv,
            values,
            alpha,
            grid_points=grid_points,
            n_sims=n_sims,
            rng=as_generator(seed),
            refine=bool(refine),
        )
        label, param = "C-LF", "Mbar"

    est = float(lv @ beta[num_pre:])
    se = math.sqrt(max(float(lv @ sig[num_pre:, num_pre:] @ lv), 0.0))
    z = float(stats.norm.ppf(1 - alpha / 2))
    table = pd.DataFrame(
        {
            "method": ["Original"] + [label] * len(values),
            param: np.r_[np.nan, values],
            "ci_low": np.r_[est - z * se, lows],
            "ci_high": np.r_[est + z * se, highs],
        }
    )
    return SensitivityResult(
        table=table,
        method=method,
        parameter=param,
        estimate=est,
        se=se,
        l_vec=lv,
        num_pre=num_pre,
        num_post=num_post,
        alpha=alpha,
        warnings=warnings,
    )


class SensitivityResult:
    """Honest confidence intervals over a grid of restriction sizes.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``method``, ``M`` or ``Mbar``, ``ci_low``, ``ci_high``; the first row is
        the original (parallel-trends) confidence interval, with a missing M/Mbar.
    method : str
        ``"smoothness"`` or ``"relative_magnitude"``.
    parameter : str
        ``"M"`` or ``"Mbar"``.
    estimate, se : float
        The target's point estimate ``l' beta_post`` and standard error.
    l_vec : ndarray
        Weights on the post-period effects.
    num_pre, num_post : int
        Numbers of pre- and post-period coefficients.
    alpha : float
        One minus the coverage.
    warnings : list of str, optional
        Plain-language diagnostics (empty or unbounded sets).

    Attributes
    ----------
    breakdown : float or None
        The largest M (or Mbar) of the grid such that the interval at it, and at every
        smaller grid value, excludes zero; None when even the smallest does not. It is
        a grid value: refine the grid near it for a sharper figure.
    """

    def __init__(
        self,
        *,
        table: pd.DataFrame,
        method: str,
        parameter: str,
        estimate: float,
        se: float,
        l_vec: FloatArray,
        num_pre: int,
        num_post: int,
        alpha: float,
        warnings: list[str] | None = None,
    ) -> None:
        self.table = table
        self.method = method
        self.parameter = parameter
        self.estimate = estimate
        self.se = se
        self.l_vec = np.asarray(l_vec, dtype=float)
        self.num_pre = num_pre
        self.num_post = num_post
        self.alpha = alpha
        self.warnings = list(warnings or [])
        self.breakdown = self._breakdown()

    @property
    def original_ci(self) -> tuple[float, float]:
        """The usual confidence interval, valid under exact parallel trends."""
        row = self.table.iloc[0]
        return (float(row["ci_low"]), float(row["ci_high"]))

    def _breakdown(self) -> float | None:
        rows = self.table.iloc[1:].sort_values(self.parameter)
        excl = ((rows["ci_low"] > 0) | (rows["ci_high"] < 0)).to_numpy()
        if len(excl) == 0 or not excl[0]:
            return None
        n_ok = len(excl) if excl.all() else int(np.argmin(excl))
        return float(rows[self.parameter].iloc[n_ok - 1])

    # --------------------------------------------------------------- protocol
    def to_frame(self) -> pd.DataFrame:
        """Return the table of intervals.

        Returns
        -------
        pandas.DataFrame
            A copy of :attr:`table`.
        """
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of the analysis.

        Returns
        -------
        dict
            Keys ``method``, ``parameter``, ``estimate``, ``se``, ``alpha``, ``l_vec``,
            ``breakdown``, ``table`` (list of rows) and ``warnings``.
        """
        out = jsonable(
            {
                "method": self.method,
                "parameter": self.parameter,
                "estimate": self.estimate,
                "se": self.se,
                "alpha": self.alpha,
                "l_vec": self.l_vec,
                "num_pre": self.num_pre,
                "num_post": self.num_post,
                "breakdown": self.breakdown,
                "table": self.table,
                "warnings": self.warnings,
            }
        )
        assert isinstance(out, dict)
        return out

    def summary(self) -> str:
        """Return a text summary: the intervals, the breakdown value and warnings.

        Returns
        -------
        str
            A plain-text table.
        """
        level = int(round((1 - self.alpha) * 100))
        name = (
            "smoothness, Delta^SD(M)"
            if self.method == "smoothness"
            else "relative magnitudes, Delta^RM(Mbar)"
        )
        rule = "=" * _WIDTH
        lines = [
            f"Sensitivity to parallel trends ({name})",
            rule,
            f"Target: l'tau_post with l = {np.array2string(self.l_vec, precision=3)}; "
            f"estimate {self.estimate:.4f} (se {self.se:.4f}); {level}% intervals",
            "-" * _WIDTH,
            self.table.to_string(index=False, float_format=lambda v: f"{v:.5f}"),
            "-" * _WIDTH,
        ]
        if self.breakdown is None:
            lines.append(
                f"Breakdown {self.parameter}: none on the grid (the interval includes "
                "zero already at the smallest value)."
            )
        else:
            lines.append(
                f"Breakdown {self.parameter}: {self.breakdown:g} (largest grid value "
                "whose interval, like all smaller ones, excludes zero)."
            )
        if self.warnings:
            lines.append("Warnings:")
            lines.extend(f"  - {w}" for w in self.warnings)
        lines.append(rule)
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Plot the intervals against M (or Mbar), with the original interval first.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when None.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        ax = axes_or_new(ax)
        rows = self.table.iloc[1:]
        x = rows[self.parameter].to_numpy(dtype=float)
        gaps = np.diff(np.unique(x))
        gap = float(gaps.min()) if len(gaps) else (abs(float(x[0])) or 1.0) * 0.2
        x_orig = float(np.nanmin(x)) - gap
        lo, hi = self.original_ci
        ax.errorbar(
            [x_orig],
            [(lo + hi) / 2],
            yerr=[[(hi - lo) / 2], [(hi - lo) / 2]],
            fmt="none",
            capsize=4,
            color="C0",
            label="Original",
        )
        lows = rows["ci_low"].to_numpy(dtype=float)
        highs = rows["ci_high"].to_numpy(dtype=float)
        finite = np.isfinite(lows) & np.isfinite(highs)
        ax.errorbar(
            x[finite],
            (lows[finite] + highs[finite]) / 2,
            yerr=[(highs - lows)[finite] / 2, (highs - lows)[finite] / 2],
            fmt="none",
            capsize=4,
            color="C1",
            label=str(rows["method"].iloc[0]) if len(rows) else "",
        )
        ax.axhline(0, color="grey", lw=0.8, ls="--")
        if len(x) <= 12:
            ax.set_xticks([x_orig, *x.tolist()], ["Original", *[f"{v:g}" for v in x]])
        if self.breakdown is not None:
            ax.axvline(self.breakdown, color="C3", lw=0.8, ls=":", label="Breakdown")
        if self.method == "smoothness":
            ax.set_xlabel(
                "M: max change in the slope of the trend violation (outcome units)"
            )
            title = "Sensitivity to parallel trends: smoothness (FLCI)"
        else:
            ax.set_xlabel("Mbar: post-period violation / largest pre-period violation")
            title = "Sensitivity to parallel trends: relative magnitudes (C-LF)"
        level = int(round((1 - self.alpha) * 100))
        ax.set_ylabel(f"{level}% CI for the effect (outcome units)")
        ax.set_title(title)
        ax.legend(frameon=False)
        return ax

    def _repr_html_(self) -> str:
        body = html.escape(self.summary())
        return f"<pre style='font-family: monospace'>{body}</pre>"

    def __repr__(self) -> str:
        return self.summary()

    __str__ = __repr__


# ------------------------------------------------------------------- helpers
def _check_inputs(
    betahat: Any, sigma: Any, num_pre: int, num_post: int
) -> tuple[FloatArray, FloatArray]:
    n = num_pre + num_post
    try:
        beta = np.asarray(betahat, dtype=float).ravel()
        sig = np.asarray(sigma, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"betahat and sigma must be numeric arrays; could not convert them ({exc})."
        ) from exc
    if beta.shape != (n,):
        raise DataError(
            f"betahat has {beta.size} entries but num_pre + num_post = {n}; pass the "
            "pre- then post-period coefficients without the reference period."
        )
    if sig.shape != (n, n):
        raise DataError(
            f"sigma has shape {sig.shape} but must be ({n}, {n}) to match betahat."
        )
    if not (np.isfinite(beta).all() and np.isfinite(sig).all()):
        raise DataError("betahat and sigma must be finite (no NaN or inf entries).")
    scale = max(float(np.abs(sig).max()), 1e-300)
    if np.abs(sig - sig.T).max() > 1e-8 * scale:
        raise DataError(
            "sigma is not symmetric; pass the covariance matrix of the coefficients."
        )
    sig = (sig + sig.T) / 2
    if np.linalg.eigvalsh(sig).min() < -1e-8 * scale:
        raise DataError(
            "sigma is not positive semi-definite; pass the covariance matrix of the "
            "coefficients."
        )
    post = sig[num_pre:, num_pre:]
    if np.diag(post).max() <= 0:
        raise DataError(
            "sigma gives the post-period coefficients zero variance; the sensitivity "
            "analysis needs their sampling uncertainty."
        )
    return beta, sig


def _check_l_vec(l_vec: Any, num_post: int) -> FloatArray:
    if l_vec is None:
        out = np.zeros(num_post)
        out[0] = 1.0
        return out
    try:
        out = np.asarray(l_vec, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise SpecError(f"l_vec must be numeric; got {l_vec!r}.") from exc
    if out.shape != (num_post,):
        raise SpecError(
            f"l_vec must have num_post = {num_post} entries (one weight per "
            f"post-period coefficient); got {out.size}."
        )
    if not np.isfinite(out).all() or not np.any(out != 0):
        raise SpecError(f"l_vec must be finite and not all zero; got {out.tolist()}.")
    return out


def _check_grid(name: str, values: Any) -> FloatArray:
    if isinstance(values, (int, float, np.integer, np.floating)):
        values = [values]
    if isinstance(values, (str, bytes)) or not isinstance(
        values, (Sequence, np.ndarray, pd.Series)
    ):
        raise SpecError(
            f"{name} must be a number or a sequence of numbers; got {values!r}."
        )
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{name} must be numeric; got {values!r}.") from exc
    if arr.size == 0 or not np.isfinite(arr).all() or (arr < 0).any():
        raise SpecError(
            f"{name} must hold at least one finite value >= 0; got {arr.tolist()}."
        )
    return arr


def _default_M(beta: FloatArray, sig: FloatArray, num_pre: int) -> FloatArray:
    """HonestDiD's default grid: 0 to a 95% upper bound on the pre-period curvature."""
    if num_pre == 1:
        return np.linspace(0.0, math.sqrt(sig[0, 0]), 10)
    # Second differences of (beta_pre, 0), the reference period being zero.
    D = np.zeros((num_pre - 1, num_pre))
    for r in range(num_pre - 1):
        D[r, r : r + 3 if r + 3 <= num_pre else num_pre] = [1, -2, 1][
            : min(3, num_pre - r)
        ]
    A = np.vstack([D, -D])
    diffs = A @ beta[:num_pre]
    se = np.sqrt(np.clip(np.diag(A @ sig[:num_pre, :num_pre] @ A.T), 0, None))
    upper = float(np.max(diffs + stats.norm.ppf(0.95) * se))
    if not upper > 0:
        upper = float(np.sqrt(sig[0, 0]))
    return np.linspace(0.0, upper, 10)
