"""One conclusion for a study: what its analyses, taken together, can and cannot say.

:func:`study_verdict` reads the analyses of a run (their ``to_dict()``, as in
``results.json``) and returns ``results.json["verdict"]``: a ``conclusion``, the
``reasons`` behind it (plain sentences, the deciding ones first) and the evidence it
weighed. The rules are fixed and written down here, so a reader can check every verdict
by hand.

What each analysis is
---------------------
The runner gives each analysis a role (:func:`analysis_role`):

- ``"estimate"``: an estimate of the programme's effect (``did``, ``synth``,
  ``matched_did``, ``match``), unless it is a placebo;
- ``"placebo"``: a placebo in time (``sample = {placebo_shift = k}``): it estimates an
  effect where there is none by construction;
- ``"power"``: a power simulation (``estimator = "power"``): its numbers are minimum
  detectable effects (MDEs), never effect estimates;
- ``"descriptive"``: anything else (e.g. a Goodman-Bacon decomposition), not weighed.

An estimate is *significant* when its p-value is below its ``alpha`` **and** its
confidence interval excludes zero (either one alone when only one is reported). A claim
of an effect needs both; a diagnostic *fails* when either one says so (we need both to
claim an effect, and either to doubt one).

The diagnostics
---------------
Each is ``"pass"``, ``"fail"`` or ``"not checked"``.

1. Pre-trends, for every effect estimate that carries a pre-trend test: the runner's
   permutation test of the event-time pre-period coefficients (``notes[name]
   ["pretrend_check"]``, valid whatever the number of treated units) when present;
   otherwise the result's own ``pretrend`` test, unless that test warns that it is not
   valid here (an analytic Wald test over many pre-period cells with few units per
   cohort over-rejects: it is then reported but not used). Fails when a usable test
   has ``p < alpha``.
2. Placebo in time: every ``"placebo"`` analysis. Fails when its estimate is
   significant by either its p-value or its confidence interval.
3. Selection on the outcome: ``to_dict()["diagnostics"]["selection"]`` of every effect
   estimate (adopters whose pre-adoption level or trend is extreme against the
   comparison units: the regression-to-the-mean trap;
   :mod:`impact.diagnostics.selection`). Fails when ``flagged`` (or ``flag``) is true,
   or, without either, when its ``pvalue`` is below ``alpha``; "not checked" when no
   estimate carries it or it is not ``available``.

The design's power
------------------
The power of the design against the study's ``effect_of_interest`` (``[study]`` keys
``effect_of_interest`` and ``effect_scale``) comes from a ``"power"`` analysis when the
study has one: the simulated power curve for the number of treated units closest to the
estimates' (the largest simulated number not above it, else the smallest), interpolated
linearly over effect size as :meth:`impact.power.PowerResult.power_at` does. Without
one, from the analytic design assessments of the effect estimates (``result.design()``,
kept by the runner in ``notes[name]["design_detail"]``): with ``s = MDE / (z(1 - alpha/2)
+ z(power))``, power against ``e`` is ``Phi(|e|/s - z(1 - alpha/2)) + Phi(-|e|/s -
z(1 - alpha/2))``, using the median MDE. Relative and absolute effects are converted with
the treated units' mean pre-adoption outcome (for a log outcome a relative change ``r``
is ``log(1 + r)`` log points, and ``m`` log points a change of ``exp(m) - 1``: a fall of
``1 - exp(-m)``).

The conclusion
--------------
Let ``E`` be the effect estimates, ``d`` the direction of the effect of interest (the
sign of the median estimate when none is stated), and call the estimates *consistent*
when all have the sign ``d``, their confidence intervals share a common range, more
than half are significant in direction ``d`` and none is significant against it.
The rules apply in this order; the first that matches decides:

1. ``"inconclusive"`` when there is no effect estimate.
2. ``"unreliable"`` when any diagnostic fails: the estimates then measure something
   other than the programme's effect (pre-existing trends, selection), whatever their
   p-values.
3. ``"supported"`` when the estimates are consistent, the power against the effect of
   interest is known to be at least 50% or is unknown, and every robustness grid on an
   effect estimate keeps the base analysis's sign in at least 80% of its variants.
   Below 50% power a significant estimate is more likely than not an exaggeration
   (Gelman and Carlin 2014, "Beyond power calculations", type M error), so the rule
   reads ``"inconclusive"`` instead.
4. ``"not_supported"`` when an effect of interest is stated, no estimate is significant
   in its direction, and every estimate's confidence interval excludes it (the data
   rule it out); or when more than half the estimates are significant against it.
5. ``"not_detectable"`` when an effect of interest is stated and the power against it is
   below 80% (it is smaller than the design's MDE): the estimates can neither confirm
   nor rule it out.
6. ``"inconclusive"`` otherwise (estimates that disagree in sign or significance,
   intervals that do not overlap, or an effect that no stated effect of interest lets
   us judge).

The verdict weighs the analyses the study file asked for, no more: a study with one
estimator and no diagnostics can read ``"supported"`` with every diagnostic "not
checked", and its reasons say so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "CONCLUSIONS",
    "analysis_role",
    "is_significant",
    "study_verdict",
    "verdict_parts",
]

#: The possible conclusions, from the most to the least favourable to the programme.
CONCLUSIONS = (
    "supported",
    "inconclusive",
    "not_detectable",
    "unreliable",
    "not_supported",
)

_EFFECT_ESTIMATORS = frozenset({"did", "synth", "matched_did", "match"})
#: below this power against the effect of interest, a significant estimate is likely
#: an exaggeration (type M) and "supported" is withheld
_MIN_POWER_SUPPORTED = 0.5
#: the conventional target: below it the effect of interest is "not detectable"
_TARGET_POWER = 0.8
#: robustness grids must keep the base's sign in at least this share of variants
_MIN_ROBUST_SIGN_SHARE = 0.8

_HEADLINES = {
    "supported": "Supported",
    "inconclusive": "Inconclusive",
    "not_detectable": "Not detectable",
    "unreliable": "Unreliable",
    "not_supported": "Not supported",
}


def verdict_parts(verdict: Any) -> tuple[str, str, str] | None:
    """Split a verdict for display: (conclusion key, its name, the headline's sentence).

    Parameters
    ----------
    verdict : Any
        ``results.json["verdict"]`` (anything else, e.g. from an older run, gives None).

    Returns
    -------
    tuple of str, or None
        E.g. ``("not_detectable", "Not detectable", "The design had about 26% power
        ...")``: the sentence without the conclusion's name in front, capitalised.
    """
    if not isinstance(verdict, Mapping) or not isinstance(
        verdict.get("conclusion"), str
    ):
        return None
    key = str(verdict["conclusion"])
    name = _HEADLINES.get(key) or key
    text = str(verdict.get("headline") or "").removeprefix(f"{name}: ")
    return (
        key if key in _HEADLINES else "inconclusive",
        name,
        text[:1].upper() + text[1:],
    )


def analysis_role(estimator: str, *, placebo_shift: int | None = None) -> str:
    """Classify an analysis for the verdict.

    Parameters
    ----------
    estimator : str
        The study's estimator name (``did``, ``synth``, ``power``, ...).
    placebo_shift : int, optional
        The analysis's ``sample.placebo_shift``.

    Returns
    -------
    str
        ``"estimate"``, ``"placebo"``, ``"power"`` or ``"descriptive"``.
    """
    if estimator == "power":
        return "power"
    if placebo_shift:
        return "placebo"
    if estimator in _EFFECT_ESTIMATORS:
        return "estimate"
    return "descriptive"


# ------------------------------------------------------------------ numbers
def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _ci(d: Mapping[str, Any]) -> tuple[float, float] | None:
    ci = d.get("ci")
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        lo, hi = _num(ci[0]), _num(ci[1])
        if lo is not None and hi is not None:
            return (lo, hi)
    return None


def _alpha(d: Mapping[str, Any]) -> float:
    a = _num(d.get("alpha"))
    return a if a is not None and 0 < a < 1 else 0.05


def _signif(d: Mapping[str, Any], *, both: bool) -> int:
    """+1 / -1 when the estimate is significantly positive / negative, else 0.

    ``both=True`` needs the p-value and the interval to agree (when both exist);
    ``both=False`` takes either.
    """
    est = _num(d.get("estimate"))
    p = _num(d.get("pvalue"))
    ci = _ci(d)
    alpha = _alpha(d)
    by_p = 0
    if p is not None and est is not None and est != 0 and p < alpha:
        by_p = 1 if est > 0 else -1
    by_ci = 0
    if ci is not None:
        by_ci = 1 if ci[0] > 0 else (-1 if ci[1] < 0 else 0)
    if p is None:
        return by_ci
    if ci is None:
        return by_p
    if both:
        return by_p if by_p == by_ci else 0
    return by_p or by_ci


def is_significant(d: Mapping[str, Any], *, both: bool = True) -> int:
    """Whether an analysis's estimate is significant, and in which direction.

    Parameters
    ----------
    d : mapping
        The analysis's ``to_dict()``.
    both : bool, default True
        Require the p-value and the confidence interval to agree (when both are
        reported); with False, either one suffices.

    Returns
    -------
    int
        +1 significantly positive, -1 significantly negative, 0 neither.
    """
    return _signif(d, both=both)


def _pct(r: float) -> str:
    """A relative change as text: 0.05 -> '5%'."""
    a = 100 * abs(r)
    return f"{a:.3g}%" if a >= 99.5 else f"{a:.2g}%"


def _g(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


class _Scale:
    """Conversions between relative changes and outcome units."""

    def __init__(self, baseline: float | None, log_outcome: bool) -> None:
        self.baseline = baseline if baseline and baseline > 0 else None
        self.log = bool(log_outcome)

    def to_units(self, rel: float) -> float | None:
        if self.log:
            return math.log1p(rel) if rel > -1 else None
        return rel * self.baseline if self.baseline is not None else None

    def to_relative(self, units: float) -> float | None:
        if self.log:
            return math.expm1(units)
        return units / self.baseline if self.baseline is not None else None

    def describe(self, value: float, scale: str) -> str:
        """'a 5% fall (-3.5 in outcome units)' style text of a signed effect."""
        word = "fall" if value < 0 else "rise"
        if scale == "relative":
            units = self.to_units(value)
            extra = f" ({_g(units)} in outcome units)" if units is not None else ""
            if self.log and units is not None:
                extra = f" ({units:.3g} log points)"
            return f"a {_pct(value)} {word}{extra}"
        rel = self.to_relative(value)
        extra = f" ({_pct(rel)})" if rel is not None else ""
        if self.log:
            return f"{word} of {abs(value):.3g} log points{extra}"
        return f"a {word} of {_g(abs(value))} in outcome units{extra}"


# ------------------------------------------------------------- diagnostics
def _check_pretrends(
    names: Sequence[str],
    analyses: Mapping[str, Mapping[str, Any]],
    notes: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    details: list[dict[str, Any]] = []
    ignored: list[str] = []
    for name in names:
        d = analyses[name]
        check = (notes.get(name) or {}).get("pretrend_check")
        if isinstance(check, Mapping) and _num(check.get("pvalue")) is not None:
            details.append(
                {
                    "analysis": name,
                    "pvalue": _num(check.get("pvalue")),
                    "method": str(check.get("method") or "permutation"),
                    "alpha": _alpha(d),
                }
            )
            continue
        pre = d.get("pretrend")
        if not isinstance(pre, Mapping) or _num(pre.get("pvalue")) is None:
            continue
        if pre.get("warnings"):
            ignored.append(name)
            continue
        details.append(
            {
                "analysis": name,
                "pvalue": _num(pre.get("pvalue")),
                "method": str(pre.get("method") or "Wald test"),
                "alpha": _alpha(d),
            }
        )
    failed = [x for x in details if x["pvalue"] < x["alpha"]]
    status = "fail" if failed else ("pass" if details else "not checked")
    if failed:
        text = "Pre-trends: " + "; ".join(
            f"{x['analysis']} rejects parallel pre-trends (p = {x['pvalue']:.3g}, "
            f"{x['method']})"
            for x in failed
        )
    elif details:
        text = "Pre-trends: no evidence of diverging pre-trends (" + "; ".join(
            f"{x['analysis']} p = {x['pvalue']:.2f}" for x in details
        )
        text += ")"
    else:
        text = "Pre-trends: not checked (no event-study analysis with a usable test)"
    if ignored:
        text += (
            f"; the analytic pre-trend test of {', '.join(ignored)} warns that it is "
            "not valid here and was not used"
        )
    return {"status": status, "tests": details, "ignored": ignored, "text": text + "."}


def _check_placebos(
    names: Sequence[str], analyses: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    details = []
    for name in names:
        d = analyses[name]
        est = _num(d.get("estimate"))
        if est is None:
            continue
        details.append(
            {
                "analysis": name,
                "estimate": est,
                "ci": list(_ci(d) or ()) or None,
                "pvalue": _num(d.get("pvalue")),
                "significant": _signif(d, both=False) != 0,
            }
        )
    failed = [x for x in details if x["significant"]]
    status = "fail" if failed else ("pass" if details else "not checked")

    def one(x: dict[str, Any]) -> str:
        p = f", p = {x['pvalue']:.3g}" if x["pvalue"] is not None else ""
        ci = f", CI [{_g(x['ci'][0])}, {_g(x['ci'][1])}]" if x["ci"] is not None else ""
        return f"{x['analysis']} {_g(x['estimate'])}{ci}{p}"

    if failed:
        text = (
            "Placebo in time: a significant 'effect' before adoption ("
            + "; ".join(one(x) for x in failed)
            + "): the comparison was diverging before the programme started."
        )
    elif details:
        text = (
            "Placebo in time: no significant 'effect' before adoption ("
            + "; ".join(one(x) for x in details)
            + ")."
        )
    else:
        text = (
            "Placebo in time: not checked (the study has no placebo-in-time analysis)."
        )
    return {"status": status, "tests": details, "text": text}


_DIRECTION_TEXT = {
    "high": ("were higher", "fall"),
    "low": ("were lower", "rise"),
    "rising": ("rose faster", "fall"),
    "falling": ("fell faster", "rise"),
}


def _selection_sentence(x: dict[str, Any]) -> str:
    """Plain words for one flagged selection diagnostic."""
    verb, after = _DIRECTION_TEXT.get(str(x.get("direction") or ""), ("", "change"))
    pct = x.get(
        "trend_percentile"
        if x.get("direction") in ("rising", "falling")
        else "level_percentile"
    )
    p = f"p = {x['pvalue']:.3g}" if x["pvalue"] is not None else "flagged"
    if verb and pct is not None:
        share = pct if x.get("direction") in ("high", "rising") else 1 - pct
        head = (
            f"in the three years before adoption, adopters' outcomes {verb} than "
            f"those of {share:.0%} of comparison units on average ({p})"
        )
    else:
        head = (
            "adopters' pre-adoption outcomes were extreme against the comparison "
            f"units ({p})"
        )
    return f"{head}: a {after} afterwards may be regression to the mean"


def _check_selection(
    names: Sequence[str], analyses: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    details: list[dict[str, Any]] = []
    unavailable: list[str] = []
    for name in names:
        diag = analyses[name].get("diagnostics")
        sel = diag.get("selection") if isinstance(diag, Mapping) else None
        if not isinstance(sel, Mapping):
            continue
        if sel.get("available") is False:
            unavailable.append(f"{name}: {sel.get('reason') or 'not available'}")
            continue
        p = _num(sel.get("pvalue"))
        flag = sel.get("flag", sel.get("flagged"))
        if not isinstance(flag, bool):
            if p is None:
                continue
            flag = p < _alpha(analyses[name])
        details.append(
            {
                "analysis": name,
                "flag": flag,
                "pvalue": p,
                "statistic": _num(sel.get("statistic")),
                "direction": sel.get("direction") or None,
                "level_percentile": _num(sel.get("level_percentile")),
                "trend_percentile": _num(sel.get("trend_percentile")),
            }
        )
    failed = [x for x in details if x["flag"]]
    status = "fail" if failed else ("pass" if details else "not checked")
    if failed:
        # analyses on the same data carry the same diagnostic: say each finding once
        groups: dict[str, list[str]] = {}
        for x in failed:
            groups.setdefault(_selection_sentence(x), []).append(x["analysis"])
        text = "Selection: " + "; ".join(
            f"{sentence} (in {', '.join(who)})" for sentence, who in groups.items()
        )
        text += "; see the placebo in time."
    elif details:
        by_p: dict[str, list[str]] = {}
        for x in details:
            key = f"p = {x['pvalue']:.2f}" if x["pvalue"] is not None else "no p-value"
            by_p.setdefault(key, []).append(x["analysis"])
        text = (
            "Selection: adopters' pre-adoption level and trend are not extreme "
            "against the comparison units ("
            + "; ".join(f"{k} in {', '.join(v)}" for k, v in by_p.items())
            + ")."
        )
    else:
        text = "Selection on the outcome: not checked (no analysis reports it)."
        if unavailable:
            text = (
                "Selection on the outcome: not checked ("
                + "; ".join(unavailable)
                + ")."
            )
    return {
        "status": status,
        "tests": details,
        "unavailable": unavailable,
        "text": text,
    }


# ------------------------------------------------------------------- power
def _interp_power(rows: list[tuple[float, float]], alpha: float, x: float) -> float:
    """Power at |effect| x from (|effect|, power) points; NaN beyond the grid."""
    pts: dict[float, list[float]] = {}
    for m, pw in rows:
        pts.setdefault(m, []).append(pw)
    if 0.0 not in pts:
        pts[0.0] = [alpha]
    grid = np.array(sorted(pts))
    if x > grid[-1]:
        return math.nan
    ys = np.array([np.mean(pts[m]) for m in grid])
    return float(np.interp(x, grid, ys))


def _power_from_simulation(
    name: str,
    d: Mapping[str, Any],
    n_star: int | None,
    eoi: tuple[float, str] | None,
    scale: _Scale,
) -> dict[str, Any] | None:
    table = d.get("table")
    if not isinstance(table, list) or not table:
        return None
    rows = [
        r
        for r in table
        if isinstance(r, Mapping)
        and _num(r.get("n_treated")) is not None
        and _num(r.get("effect")) is not None
        and _num(r.get("power")) is not None
    ]
    if not rows:
        return None
    ns = sorted({int(r["n_treated"]) for r in rows})
    note = None
    if n_star is None or n_star in ns:
        n = ns[0] if n_star is None else n_star
    elif any(v <= n_star for v in ns):
        n = max(v for v in ns if v <= n_star)
        note = f"simulated with {n} treated units, the closest number below the {n_star} the estimates use"
    else:
        n = ns[0]
        note = f"simulated with {n} treated units, more than the {n_star} the estimates use: the real power is lower"
    effect_type = str(d.get("effect_type") or "absolute")
    alpha = _alpha(d)
    mde_map = d.get("mde") if isinstance(d.get("mde"), Mapping) else {}
    mde = _num(mde_map.get(str(n))) if mde_map else None
    out: dict[str, Any] = {
        "source": f"power analysis {name!r} (simulation)",
        "analysis": name,
        "n_treated": n,
        "mde": mde,
        "scale": effect_type,
        "power_target": _TARGET_POWER,
        "alpha": alpha,
        "power_at_effect_of_interest": None,
        "at_least": False,
        "note": note,
    }
    if eoi is None:
        return out
    value, eoi_scale = eoi
    if eoi_scale == effect_type:
        x: float | None = abs(value)
    elif effect_type == "relative":
        rel = scale.to_relative(value)
        x = abs(rel) if rel is not None else None
    else:
        units = scale.to_units(value)
        x = abs(units) if units is not None else None
    if x is None:
        out["note"] = (note + "; " if note else "") + (
            "the effect of interest could not be converted to the simulation's scale"
        )
        return out
    pts = [
        (abs(float(r["effect"])), float(r["power"]))
        for r in rows
        if int(r["n_treated"]) == n
    ]
    pw = _interp_power(pts, alpha, x)
    if math.isnan(pw):
        top = max(pts)
        top_power = max(p for m, p in pts if m == top[0])
        if top_power >= _TARGET_POWER:
            out["power_at_effect_of_interest"] = top_power
            out["at_least"] = True
        else:
            out["note"] = (note + "; " if note else "") + (
                "the effect of interest lies beyond the simulated effects"
            )
        return out
    out["power_at_effect_of_interest"] = pw
    return out


def _power_from_designs(
    names: Sequence[str],
    notes: Mapping[str, Mapping[str, Any]],
    eoi: tuple[float, str] | None,
    scale: _Scale,
) -> dict[str, Any] | None:
    found = []
    for name in names:
        det = (notes.get(name) or {}).get("design_detail")
        if not isinstance(det, Mapping):
            continue
        mde = _num(det.get("mde"))
        if mde is None or mde <= 0:
            continue
        found.append((name, det, mde))
    if not found:
        return None
    mdes = [m for _, _, m in found]
    mde = float(median(mdes))
    det = found[0][1]
    alpha = _num(det.get("alpha")) or 0.05
    target = _num(det.get("power")) or _TARGET_POWER
    ns = [int(x) for _, d, _ in found if (x := _num(d.get("n_treated"))) is not None]
    out: dict[str, Any] = {
        "source": "analytic design assessment of the effect estimates (median MDE of "
        + ", ".join(n for n, _, _ in found)
        + ")",
        "analysis": None,
        "n_treated": int(median(ns)) if ns else None,
        "mde": mde,
        "scale": "absolute",
        "power_target": target,
        "alpha": alpha,
        "power_at_effect_of_interest": None,
        "at_least": False,
        "note": None,
    }
    if eoi is None:
        return out
    value, eoi_scale = eoi
    units = abs(value) if eoi_scale == "absolute" else scale.to_units(value)
    if units is None:
        out["note"] = "the effect of interest could not be converted to outcome units"
        return out
    z = stats.norm.ppf(1 - alpha / 2)
    s = mde / (z + stats.norm.ppf(target))
    lam = abs(units) / s
    out["power_at_effect_of_interest"] = float(
        stats.norm.cdf(lam - z) + stats.norm.cdf(-lam - z)
    )
    return out


def _power_text(
    power: dict[str, Any] | None, eoi_text: str | None, scale: _Scale
) -> str:
    if power is None:
        return "Power: not assessed (add a power analysis or set design = true in [study])."
    parts = []
    n = power.get("n_treated")
    with_n = f"with {n} treated units " if n else ""
    mde = power.get("mde")
    if mde is not None:
        if power["scale"] == "relative":
            m = f"{_pct(mde)} or more (a fall or a rise)"
        elif scale.log:
            m = (
                f"{mde:.3g} log points or more (a fall of "
                f"{_pct(-math.expm1(-mde))}, a rise of {_pct(math.expm1(mde))})"
            )
        else:
            rel = scale.to_relative(mde)
            m = f"{_g(mde)} or more in outcome units" + (
                f" ({_pct(rel)})" if rel else ""
            )
        parts.append(
            f"{with_n}the design detects effects of {m} with "
            f"{power['power_target']:.0%} power"
        )
    else:
        parts.append(f"{with_n}the simulated effects never reach 80% power")
    pw = power.get("power_at_effect_of_interest")
    if eoi_text is not None and pw is not None:
        prefix = "at least " if power.get("at_least") else "about "
        parts.append(f"its power against {eoi_text} is {prefix}{pw:.0%}")
    elif eoi_text is None:
        parts.append("no effect of interest is stated in [study] to judge it against")
    text = "Power: " + "; ".join(parts) + f" [{power['source']}"
    if power.get("note"):
        text += f"; {power['note']}"
    return text + "]."


# ---------------------------------------------------------------- estimates
def _estimates_summary(
    names: Sequence[str],
    analyses: Mapping[str, Mapping[str, Any]],
    direction: int,
) -> dict[str, Any]:
    ests = {n: float(analyses[n]["estimate"]) for n in names}
    cis = {n: ci for n in names if (ci := _ci(analyses[n])) is not None}
    sig = {n: _signif(analyses[n], both=True) for n in names}
    same_sign = all((v > 0) - (v < 0) == direction for v in ests.values())
    overlap: list[float] | None = None
    if cis:
        lo = max(c[0] for c in cis.values())
        hi = min(c[1] for c in cis.values())
        overlap = [lo, hi] if lo <= hi else None
    for_ = [n for n in names if sig[n] == direction]
    against = [n for n in names if sig[n] == -direction]
    return {
        "analyses": list(names),
        "estimates": ests,
        "range": [min(ests.values()), max(ests.values())],
        "direction": direction,
        "same_sign": same_sign,
        "ci_overlap": overlap,
        "cis_overlap": bool(cis) and overlap is not None,
        "significant": for_,
        "significant_against": against,
        "consistent": bool(
            same_sign
            and (not cis or overlap is not None)
            and 2 * len(for_) > len(names)
            and not against
        ),
    }


def _estimates_text(est: dict[str, Any], analyses: Mapping[str, Any]) -> str:
    n = len(est["analyses"])
    lo, hi = est["range"]
    word = {1: "positive", -1: "negative", 0: "zero"}[est["direction"]]
    if n == 1:
        text = f"Estimates: one effect estimate ({est['analyses'][0]}), {_g(lo)}"
    else:
        text = f"Estimates: {n} effect estimates range from {_g(lo)} to {_g(hi)}"
    if n > 1:
        text += f"; all {word}" if est["same_sign"] else "; they disagree in sign"
        if est["ci_overlap"] is not None:
            a, b = est["ci_overlap"]
            text += f"; their confidence intervals overlap ({_g(a)} to {_g(b)})"
        elif est["cis_overlap"] is False and any(
            _ci(analyses[x]) for x in est["analyses"]
        ):
            text += "; their confidence intervals do not all overlap"
    sig = est["significant"]
    text += (
        f"; {len(sig)} of {n} significant"
        + (f" ({', '.join(sig)})" if sig and len(sig) < n else "")
        + (
            f"; {len(est['significant_against'])} significant in the other direction"
            if est["significant_against"]
            else ""
        )
    )
    not_sig = [x for x in est["analyses"] if x not in sig]
    if not_sig and sig:
        text += f"; not significant: {', '.join(not_sig)}"
    return text + "."


def _robustness(
    robustness: Sequence[Mapping[str, Any]], estimate_names: Sequence[str]
) -> dict[str, Any]:
    grids: list[dict[str, Any]] = []
    for rec in robustness:
        if rec.get("base") not in estimate_names:
            continue
        summ = rec.get("summary") or {}
        share = _num(summ.get("share_same_sign_as_base"))
        grids.append(
            {
                "name": rec.get("name"),
                "base": rec.get("base"),
                "n_variants": summ.get("n_variants"),
                "share_same_sign_as_base": share,
                "share_ci_excludes_zero": _num(summ.get("share_ci_excludes_zero")),
                "range": [_num(summ.get("min")), _num(summ.get("max"))],
            }
        )
    fragile = [
        g
        for g in grids
        if g["share_same_sign_as_base"] is not None
        and g["share_same_sign_as_base"] < _MIN_ROBUST_SIGN_SHARE
    ]
    return {"grids": grids, "fragile": [g["name"] for g in fragile]}


def _robustness_text(rob: dict[str, Any]) -> str | None:
    if not rob["grids"]:
        return None
    parts = []
    for g in rob["grids"]:
        s = f"'{g['name']}' ({g['n_variants']} variants"
        lo, hi = g["range"]
        if lo is not None and hi is not None:
            s += f", {_g(lo)} to {_g(hi)}"
        if g["share_same_sign_as_base"] is not None:
            s += f", {g['share_same_sign_as_base']:.0%} with the base's sign"
        if g["share_ci_excludes_zero"] is not None:
            s += f", {g['share_ci_excludes_zero']:.0%} with a CI excluding zero"
        parts.append(s + ")")
    return "Robustness: " + "; ".join(parts) + "."


# ------------------------------------------------------------------ verdict
def _at_least(power: dict[str, Any] | None) -> bool:
    return bool(power and power.get("at_least"))


def study_verdict(
    analyses: Mapping[str, Mapping[str, Any]],
    *,
    roles: Mapping[str, str],
    notes: Mapping[str, Mapping[str, Any]] | None = None,
    robustness: Sequence[Mapping[str, Any]] = (),
    effect_of_interest: float | None = None,
    effect_scale: str = "relative",
    baseline: float | None = None,
    log_outcome: bool = False,
) -> dict[str, Any]:
    """Weigh a study's analyses into one conclusion (rules in the module docstring).

    Parameters
    ----------
    analyses : mapping
        Analysis name -> ``to_dict()`` (JSON-safe), as in ``results.json``.
    roles : mapping
        Analysis name -> role (:func:`analysis_role`); analyses without a role are
        not weighed.
    notes : mapping, optional
        ``results.json["notes"]``: per analysis, ``pretrend_check`` (a permutation
        pre-trend test) and ``design_detail`` (an analytic design assessment).
    robustness : sequence of dict
        ``results.json["robustness"]``.
    effect_of_interest : float, optional
        The signed effect the evaluation must be able to detect.
    effect_scale : {"relative", "absolute"}
        Scale of ``effect_of_interest``.
    baseline : float, optional
        Mean pre-adoption outcome of the treated units (converts relative effects to
        outcome units).
    log_outcome : bool
        Whether the outcome is a natural log.

    Returns
    -------
    dict
        ``conclusion``, ``headline``, ``reasons`` (list of str) and the evidence:
        ``estimates``, ``diagnostics``, ``power``, ``robustness``,
        ``effect_of_interest``, ``rules``.
    """
    notes = notes or {}
    scale = _Scale(_num(baseline), log_outcome)
    names = [
        n
        for n, r in roles.items()
        if r == "estimate"
        and n in analyses
        and _num(analyses[n].get("estimate")) is not None
    ]
    placebos = [n for n, r in roles.items() if r == "placebo" and n in analyses]
    powers = [n for n, r in roles.items() if r == "power" and n in analyses]
    eoi = (
        (float(effect_of_interest), effect_scale)
        if effect_of_interest is not None
        else None
    )
    eoi_text = scale.describe(eoi[0], eoi[1]) if eoi else None

    diagnostics = {
        "pretrends": _check_pretrends(names, analyses, notes),
        "placebo_in_time": _check_placebos(placebos, analyses),
        "selection": _check_selection(names, analyses),
    }
    n_star = None
    ns = [
        int(v) for n in names if (v := _num(analyses[n].get("n_treated"))) is not None
    ]
    if ns:
        n_star = int(median(ns))
    power = None
    for name in powers:
        power = _power_from_simulation(name, analyses[name], n_star, eoi, scale)
        if power is not None:
            break
    if power is None:
        power = _power_from_designs(names, notes, eoi, scale)
    pw = power.get("power_at_effect_of_interest") if power else None

    out: dict[str, Any] = {
        "conclusion": "inconclusive",
        "headline": "",
        "reasons": [],
        "estimates": None,
        "diagnostics": {
            k: {kk: vv for kk, vv in v.items() if kk != "text"}
            for k, v in diagnostics.items()
        },
        "power": power,
        "robustness": None,
        "effect_of_interest": (
            {"value": eoi[0], "scale": eoi[1], "text": eoi_text} if eoi else None
        ),
        "rules": "impact.study.verdict (module docstring)",
    }
    diag_texts = [v["text"] for v in diagnostics.values()]
    power_text = _power_text(power, eoi_text, scale)

    if not names:
        out["headline"] = (
            "Inconclusive: no analysis in this study estimates the programme's effect."
        )
        out["reasons"] = [
            "No effect estimate: the study has no did, synth, matched_did or match "
            "analysis outside placebos.",
            *diag_texts,
            power_text,
        ]
        return out

    if eoi is not None:
        direction = 1 if eoi[0] > 0 else -1
    else:
        med = median(float(analyses[n]["estimate"]) for n in names)
        direction = (med > 0) - (med < 0)
    est = _estimates_summary(names, analyses, direction)
    out["estimates"] = est
    rob = _robustness(robustness, names)
    out["robustness"] = rob
    est_text = _estimates_text(est, analyses)
    rob_text = _robustness_text(rob)
    failed = [k for k, v in diagnostics.items() if v["status"] == "fail"]
    passed_texts = [diagnostics[k]["text"] for k in diagnostics if k not in failed]
    tail = [t for t in [rob_text] if t]

    def finish(conclusion: str, headline: str, first: list[str]) -> dict[str, Any]:
        out["conclusion"] = conclusion
        out["headline"] = f"{_HEADLINES[conclusion]}: {headline}"
        rest = [est_text, *diag_texts, power_text, *tail]
        out["reasons"] = first + [r for r in rest if r not in first]
        return out

    # 2. a failed diagnostic
    if failed:
        labels = {
            "pretrends": "pre-trends diverge",
            "placebo_in_time": "the placebo in time finds an 'effect' before adoption",
            "selection": "adopters' outcomes were extreme just before adoption "
            "(selection on the outcome)",
        }
        return finish(
            "unreliable",
            "; ".join(labels[k] for k in failed)
            + ", so the estimates cannot be read as the programme's effect.",
            [diagnostics[k]["text"] for k in failed],
        )

    dir_word = "fall" if direction < 0 else "rise"
    # 3. consistent estimates
    if est["consistent"]:
        if pw is not None and pw < _MIN_POWER_SUPPORTED and not _at_least(power):
            return finish(
                "inconclusive",
                f"the estimates agree on a {dir_word}, but the design had only about "
                f"{pw:.0%} power against {eoi_text}: significant estimates from such "
                "a design usually overstate the effect.",
                [power_text, est_text],
            )
        if rob["fragile"]:
            return finish(
                "inconclusive",
                f"the estimates agree on a {dir_word}, but robustness grid(s) "
                f"{', '.join(map(str, rob['fragile']))} change its sign in more than "
                f"{1 - _MIN_ROBUST_SIGN_SHARE:.0%} of variants.",
                [t for t in [rob_text, est_text] if t],
            )
        unchecked = [
            k.replace("_", " ")
            for k, v in diagnostics.items()
            if v["status"] == "not checked"
        ]
        caveat = f" ({', '.join(unchecked)} not checked)" if unchecked else ""
        return finish(
            "supported",
            f"the estimates agree on a {dir_word} ({_g(est['range'][0])} to "
            f"{_g(est['range'][1])}) and the diagnostics that were run pass{caveat}.",
            [est_text, *passed_texts],
        )

    # 4. the effect of interest ruled out
    if eoi is not None:
        target_units = eoi[0] if eoi[1] == "absolute" else scale.to_units(eoi[0])
        cis = [_ci(analyses[n]) for n in names]
        if (
            target_units is not None
            and all(c is not None for c in cis)
            and not est["significant"]
            and all(
                (c[0] > target_units) if direction < 0 else (c[1] < target_units)
                for c in cis
                if c is not None
            )
        ):
            return finish(
                "not_supported",
                f"every estimate's confidence interval excludes {eoi_text}.",
                [est_text],
            )
        if 2 * len(est["significant_against"]) > len(names):
            return finish(
                "not_supported",
                f"most estimates are significant in the opposite direction to "
                f"{eoi_text}.",
                [est_text],
            )
        # 5. too small to detect
        if pw is not None and pw < _TARGET_POWER and not _at_least(power):
            return finish(
                "not_detectable",
                f"the design had about {pw:.0%} power against {eoi_text}; the "
                "estimates can neither confirm nor rule it out.",
                [power_text, est_text],
            )
    # 6. the rest
    why = []
    if not est["same_sign"]:
        why.append("the estimates disagree in sign")
    if est["cis_overlap"] is False and est["ci_overlap"] is None:
        why.append("their confidence intervals do not overlap")
    if 2 * len(est["significant"]) <= len(names):
        why.append(f"only {len(est['significant'])} of {len(names)} are significant")
    if eoi is None:
        why.append("no effect of interest is stated to judge a null result against")
    return finish(
        "inconclusive",
        ("; ".join(why) or "the estimates do not settle the question") + ".",
        [est_text],
    )
