"""Selection on the outcome: were the adopters extreme just before they adopted?

Programmes are often given to areas whose outcome was high or had just risen (an
eligibility rule, or a crisis that prompted the change). Outcomes that are partly
noise then drift back towards the average afterwards, and a difference-in-differences
reads that regression to the mean as an effect.

:func:`selection_diagnostic` compares each treated unit's outcome over the (up to)
three periods before its own adoption, its level (mean) and its trend (change per
period), with every other unit's over the same calendar window. Each is turned into
a rank among all units (so one noisy unit cannot dominate), and the treated units'
mean centred rank is the statistic. Its reference distribution re-assigns the
observed adoption dates to randomly chosen units (randomization inference), which
is exact when adoption was random; the joint test takes the larger of the two
standardised statistics, so one test keeps its size at ``alpha``.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

__all__ = [
    "SelectionDiagnostic",
    "attach_selection",
    "attach_selection_panel",
    "selection_diagnostic",
]

FloatArray = NDArray[np.float64]

_N_PERM = 1999
_SEED = 20240607
_WINDOW = 3


@dataclass(frozen=True)
class SelectionDiagnostic:
    """Result of the selection-on-the-outcome check.

    Attributes
    ----------
    available : bool
        False when it could not be computed (``reason`` says why).
    statistic : float
        Joint statistic: the larger of the standardised level and trend statistics.
    pvalue : float
        Randomization p-value of ``statistic`` (two-sided in each component).
    level_statistic, trend_statistic : float
        Treated units' mean centred rank (between -0.5 and 0.5) of the pre-adoption
        level and trend among all units over the same window.
    level_pvalue, trend_pvalue : float
        Two-sided randomization p-values of each component alone.
    level_percentile, trend_percentile : float
        Average share of comparison units whose pre-adoption level (trend) is below
        the treated unit's (0.5 is typical; 0.95 means above 95% of them).
    window : int
        Pre-adoption periods used (up to 3).
    n_treated, n_comparison : int
        Units compared.
    n_perm : int
        Random re-assignments of the adoption dates.
    alpha : float
        Level at which ``flagged`` is set.
    flagged : bool
        ``pvalue < alpha``.
    direction : str
        Which component is extreme and how: ``"rising"``, ``"falling"``, ``"high"``,
        ``"low"`` or ``""``.
    method : str
        How it was computed.
    reason : str
        Why it is not available (empty otherwise).
    """

    available: bool
    statistic: float = float("nan")
    pvalue: float = float("nan")
    level_statistic: float = float("nan")
    trend_statistic: float = float("nan")
    level_pvalue: float = float("nan")
    trend_pvalue: float = float("nan")
    level_percentile: float = float("nan")
    trend_percentile: float = float("nan")
    window: int = 0
    n_treated: int = 0
    n_comparison: int = 0
    n_perm: int = 0
    alpha: float = 0.05
    flagged: bool = False
    direction: str = ""
    method: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-safe dict.

        Returns
        -------
        dict
            The fields (NaN as None).
        """
        from impact.results import jsonable

        out = jsonable(asdict(self))
        assert isinstance(out, dict)
        return out

    def warning(self, outcome: str = "outcome", matched: bool = False) -> str | None:
        """The plain-language warning when flagged, else None.

        Parameters
        ----------
        outcome : str, default "outcome"
            Name of the outcome in the text.
        matched : bool, default False
            Whether the comparison units were matched on pre-period outcomes.

        Returns
        -------
        str or None
            E.g. "Selection on the outcome: the adopters' rate rose faster than 95%
            of comparison units in the 3 periods before adoption ...".
        """
        if not (self.available and self.flagged):
            return None
        parts: list[str] = []
        after = ""
        # the extreme component first, then the other one if it is extreme on its own
        trend_first = self.direction in ("rising", "falling")
        for comp in ("trend", "level") if trend_first else ("level", "trend"):
            if comp == "trend":
                stat, p, pct = (
                    self.trend_statistic,
                    self.trend_pvalue,
                    self.trend_percentile,
                )
                verb = "rose faster" if stat > 0 else "fell faster"
            else:
                stat, p, pct = (
                    self.level_statistic,
                    self.level_pvalue,
                    self.level_percentile,
                )
                verb = "was higher" if stat > 0 else "was lower"
            if parts and not p < self.alpha:
                continue
            share = pct if stat > 0 else 1 - pct
            parts.append(f"{verb} than {share:.0%}")
            after = after or ("fall" if stat > 0 else "rise")
        text = (
            f"Selection on the outcome: on average the adopters' {outcome} "
            f"{' and '.join(parts)} of comparison units in the {self.window} periods "
            f"before adoption (selection test p = {self.pvalue:.3g}): a {after} "
            "afterwards may be regression to the mean, not an effect of the "
            "programme; see placebo_in_time()."
        )
        if matched:
            text += (
                " Matching on pre-period outcomes guards against this only as far as "
                "the matched comparison units were selected in the same way."
            )
        return text


def _window_scores(
    Y: FloatArray, cidx: FloatArray, window: int
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    """Level and trend of every unit over the window before each cohort's adoption.

    Returns the level and trend matrices (units x cohorts), the cohort indices and
    the common window length.
    """
    cohorts = np.unique(cidx[np.isfinite(cidx)]).astype(int)
    w = int(min(window, cohorts.min()))
    level = np.empty((Y.shape[0], len(cohorts)))
    trend = np.empty_like(level)
    for j, g in enumerate(cohorts):
        block = Y[:, g - w : g]
        # a unit with no observed value in the window (balance="keep") gets NaN,
        # ranked in the middle by _centred_ranks
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            level[:, j] = np.nanmean(block, axis=1) if w else np.nan
            trend[:, j] = (block[:, -1] - block[:, 0]) / (w - 1) if w > 1 else np.nan
    return level, trend, cohorts.astype(float), w


def _centred_ranks(S: FloatArray) -> FloatArray:
    """Column-wise ranks scaled to (-0.5, 0.5); missing values get 0 (the middle).

    Tied values share their average rank (mid-ranks), so the statistic does not
    depend on the order in which the units are listed.
    """
    out = np.zeros_like(S)
    for j in range(S.shape[1]):
        col = S[:, j]
        ok = np.isfinite(col)
        n = int(ok.sum())
        if n < 2:
            continue
        out[ok, j] = (stats.rankdata(col[ok], method="average") - 0.5) / n - 0.5
    return out


@lru_cache(maxsize=16)
def _draws(n: int, n_t: int, n_perm: int, seed: int) -> NDArray[np.intp]:
    """Random ordered sets of n_t of n units (fixed by the seed; cached, read-only)."""
    rng = np.random.default_rng(seed)
    out = np.argsort(rng.random((n_perm, n)), axis=1)[:, :n_t]
    out.flags.writeable = False
    return out


@lru_cache(maxsize=16)
def _draws_t(n: int, n_t: int, n_perm: int, seed: int, n_cols: int) -> NDArray[Any]:
    """Row offsets ``draws.T * n_cols`` into an (n * n_cols)-row table (slots x draws).

    Contiguous, int32 when it fits (half the memory traffic of the gather); cached,
    read-only.
    """
    dtype = np.int32 if n * n_cols < 2**31 else np.intp
    out = np.ascontiguousarray((_draws(n, n_t, n_perm, seed).T * n_cols).astype(dtype))
    out.flags.writeable = False
    return out


def _null_means(
    R: FloatArray, offsets: NDArray[Any], cols: NDArray[np.intp], chunk: int = 64
) -> FloatArray:
    """Mean of ``R[k, draws[b, s], cols[s]]`` over slots ``s``, for each draw ``b``.

    ``offsets`` is :func:`_draws_t`. Gathered in blocks of draws that stay in cache,
    summed slot by slot (the order of a reduction over a non-contiguous axis, so the
    values match the one-shot ``R[:, draws, cols[None, :]].mean(axis=2)`` bit for
    bit).
    """
    n_slots, n_perm = offsets.shape
    flat = np.ascontiguousarray(R.reshape(R.shape[0], -1).T)  # (n * J) x 2
    col = cols.astype(offsets.dtype)[:, None]
    out = np.empty((R.shape[0], n_perm))
    for a in range(0, n_perm, chunk):
        idx = offsets[:, a : a + chunk] + col
        out[:, a : a + chunk] = (flat.take(idx, axis=0).sum(axis=0) / n_slots).T
    return out


def _null_sd(R: FloatArray, cols: NDArray[np.intp]) -> float:
    """Exact SD of the treated mean rank when adopters are drawn at random.

    Slot ``k`` reads column ``cols[k]`` of a unit drawn without replacement, so
    ``Var(sum) = sum_a m_a C_aa - (sum_ab m_a m_b C_ab - sum_a m_a C_aa) / (N - 1)``
    with ``C`` the population covariance of the columns and ``m_a`` the slots per
    column. (An estimate from the draws would make the joint statistic's ties between
    components depend on Monte Carlo noise.)
    """
    n = R.shape[0]
    m = np.bincount(cols, minlength=R.shape[1]).astype(float)
    C = np.atleast_2d(np.cov(R, rowvar=False, bias=True))
    diag = float(m @ np.diag(C))
    var = diag - (float(m @ C @ m) - diag) / (n - 1)
    return float(np.sqrt(max(var, 0.0))) / len(cols)


def _share_below(
    S: FloatArray,
    col: NDArray[np.intp],
    rows: NDArray[np.intp],
    comparison: NDArray[np.bool_],
) -> float:
    """Average share of comparison units below each treated unit (same window)."""
    shares = np.full(len(rows), np.nan)
    for j in np.unique(col):
        ref = S[comparison, j]
        ref = np.sort(ref[np.isfinite(ref)])
        pick = col == j
        vals = S[rows[pick], j]
        if ref.size == 0:
            continue
        below = np.searchsorted(ref, vals, side="left")
        ties = np.searchsorted(ref, vals, side="right") - below
        share = (below + 0.5 * ties) / ref.size
        shares[pick] = np.where(np.isfinite(vals), share, np.nan)
    ok = np.isfinite(shares)
    return float(shares[ok].mean()) if ok.any() else float("nan")


def selection_diagnostic(
    Y: Any,
    cidx: Any,
    *,
    alpha: float = 0.05,
    window: int = _WINDOW,
    n_perm: int = _N_PERM,
    seed: int = _SEED,
) -> SelectionDiagnostic:
    """Test whether treated units' pre-adoption level or trend is extreme.

    Parameters
    ----------
    Y : array-like, shape (n_units, n_periods)
        Outcome (NaN allowed for missing cells).
    cidx : array-like, shape (n_units,)
        Index of each unit's first treated period in the columns of ``Y`` (inf for
        never treated).
    alpha : float, default 0.05
        Level of the flag.
    window : int, default 3
        Pre-adoption periods compared (fewer when the data start later).
    n_perm : int, default 1999
        Random re-assignments of the adoption dates.
    seed : int
        Fixed seed, so the diagnostic is reproducible.

    Returns
    -------
    SelectionDiagnostic
        Statistics, p-values and the flag; ``available=False`` with a reason when
        there is no pre-period or no comparison unit.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.normal(size=(40, 8)).cumsum(axis=1)
    >>> cidx = np.full(40, np.inf)
    >>> cidx[:4] = 5
    >>> d = selection_diagnostic(Y, cidx)
    >>> d.available, 0 <= d.pvalue <= 1
    (True, True)
    """
    Y = np.asarray(Y, dtype=float)
    cidx = np.asarray(cidx, dtype=float)
    treated = np.isfinite(cidx)
    n_t, n = int(treated.sum()), len(cidx)
    if n_t == 0 or n_t == n:
        return SelectionDiagnostic(
            available=False, reason="needs both treated and comparison units"
        )
    if np.nanmin(cidx[treated]) < 2:
        return SelectionDiagnostic(
            available=False,
            n_treated=n_t,
            n_comparison=n - n_t,
            reason="a cohort has fewer than two pre-adoption periods (no trend)",
        )
    level, trend, cohorts, w = _window_scores(Y, cidx, window)
    col_of = {float(g): j for j, g in enumerate(cohorts)}
    rows = np.flatnonzero(treated)
    cols = np.array([col_of[float(c)] for c in cidx[treated]], dtype=np.intp)
    R = np.stack([_centred_ranks(level), _centred_ranks(trend)])  # 2 x n x J
    observed = R[:, rows, cols].mean(axis=1)
    # each draw gives the observed adoption dates to n_t units chosen at random
    offsets = _draws_t(n, n_t, n_perm, seed, R.shape[2])
    null = _null_means(R, offsets, cols)  # 2 x n_perm
    sd = np.array([_null_sd(R[k], cols) for k in range(2)])
    sd = np.where(sd > 0, sd, np.inf)
    z_obs = np.abs(observed) / sd
    z_null = np.abs(null) / sd[:, None]
    p_each = (1 + (z_null >= z_obs[:, None] - 1e-12).sum(axis=1)) / (n_perm + 1)
    joint_obs = float(z_obs.max())
    joint_null = z_null.max(axis=0)
    p = float((1 + np.sum(joint_null >= joint_obs - 1e-12)) / (n_perm + 1))
    comparison = ~treated
    level_pct = _share_below(level, cols, rows, comparison)
    trend_pct = _share_below(trend, cols, rows, comparison)
    flagged = p < alpha
    direction = ""
    if flagged:
        if z_obs[1] >= z_obs[0]:
            direction = "rising" if observed[1] > 0 else "falling"
        else:
            direction = "high" if observed[0] > 0 else "low"
    return SelectionDiagnostic(
        available=True,
        statistic=joint_obs,
        pvalue=p,
        level_statistic=float(observed[0]),
        trend_statistic=float(observed[1]),
        level_pvalue=float(p_each[0]),
        trend_pvalue=float(p_each[1]),
        level_percentile=level_pct,
        trend_percentile=trend_pct,
        window=w,
        n_treated=n_t,
        n_comparison=n - n_t,
        n_perm=n_perm,
        alpha=float(alpha),
        flagged=bool(flagged),
        direction=direction,
        method=(
            f"mean rank of the treated units' level and trend over the {w} periods "
            f"before adoption among all units; randomization p-value ({n_perm} "
            "re-assignments of the adoption dates), larger standardised component"
        ),
    )


def attach_selection(
    result: Any,
    Y: Any,
    cidx: Any,
    *,
    outcome: str,
    alpha: float = 0.05,
    matched: bool = False,
) -> SelectionDiagnostic:
    """Compute the diagnostic and store it on a result (``diagnostics``, ``warnings``).

    Parameters
    ----------
    result : Result
        Any result with ``diagnostics`` and ``warnings``.
    Y, cidx
        As for :func:`selection_diagnostic`.
    outcome : str
        Outcome name for the warning.
    alpha : float, default 0.05
        Level of the flag.
    matched : bool, default False
        The comparison units were matched on pre-period outcomes.

    Returns
    -------
    SelectionDiagnostic
        What was stored.
    """
    diag = selection_diagnostic(Y, cidx, alpha=alpha)
    result.diagnostics["selection"] = diag.to_dict()
    text = diag.warning(outcome=outcome, matched=matched)
    if text and text not in result.warnings:
        result.warnings.append(text)
    return diag


def attach_selection_panel(
    result: Any, panel: Any, *, alpha: float = 0.05, matched: bool = False
) -> SelectionDiagnostic:
    """:func:`attach_selection` for a :class:`impact.Panel` (cohorts as periods).

    Parameters
    ----------
    result : Result
        Where to store the diagnostic.
    panel : Panel
        The data (``Y``, ``cohort`` in period labels, ``periods``, ``outcome``).
    alpha : float, default 0.05
        Level of the flag.
    matched : bool, default False
        The comparison units were matched on pre-period outcomes.

    Returns
    -------
    SelectionDiagnostic
        What was stored.
    """
    cohort = np.asarray(panel.cohort, dtype=float)
    periods = np.asarray(panel.periods, dtype=float)
    cidx = np.full(len(cohort), np.inf)
    finite = np.isfinite(cohort)
    cidx[finite] = np.searchsorted(periods, cohort[finite])
    return attach_selection(
        result,
        panel.Y,
        cidx,
        outcome=str(panel.outcome),
        alpha=alpha,
        matched=matched,
    )
