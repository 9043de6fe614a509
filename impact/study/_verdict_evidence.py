"""The evidence a study verdict weighs: diagnostics and the design's power.

Private to :mod:`impact.study.verdict`, whose docstring states the rules; this module
reads them out of the analyses' ``to_dict()`` and the runner's notes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any

import numpy as np
from scipy import stats

#: the conventional target: below it the effect of interest is "not detectable"
TARGET_POWER = 0.8


# ------------------------------------------------------------------ numbers
def num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def ci_of(d: Mapping[str, Any]) -> tuple[float, float] | None:
    ci = d.get("ci")
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        lo, hi = num(ci[0]), num(ci[1])
        if lo is not None and hi is not None:
            return (lo, hi)
    return None


def alpha_of(d: Mapping[str, Any]) -> float:
    a = num(d.get("alpha"))
    return a if a is not None and 0 < a < 1 else 0.05


def signif(d: Mapping[str, Any], *, both: bool) -> int:
    """+1 / -1 when the estimate is significantly positive / negative, else 0.

    ``both=True`` needs the p-value and the interval to agree (when both exist);
    ``both=False`` takes either.
    """
    est = num(d.get("estimate"))
    p = num(d.get("pvalue"))
    ci = ci_of(d)
    alpha = alpha_of(d)
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
    return signif(d, both=both)


def pct(r: float) -> str:
    """A relative change as text: 0.05 -> '5%'."""
    a = 100 * abs(r)
    return f"{a:.3g}%" if a >= 99.5 else f"{a:.2g}%"


def fmt_num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


class Scale:
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
            extra = f" ({fmt_num(units)} in outcome units)" if units is not None else ""
            if self.log and units is not None:
                extra = f" ({units:.3g} log points)"
            return f"a {pct(value)} {word}{extra}"
        rel = self.to_relative(value)
        extra = f" ({pct(rel)})" if rel is not None else ""
        if self.log:
            return f"{word} of {abs(value):.3g} log points{extra}"
        return f"a {word} of {fmt_num(abs(value))} in outcome units{extra}"


# ------------------------------------------------------------- diagnostics
def check_pretrends(
    names: Sequence[str],
    analyses: Mapping[str, Mapping[str, Any]],
    notes: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    details: list[dict[str, Any]] = []
    ignored: list[str] = []
    for name in names:
        d = analyses[name]
        check = (notes.get(name) or {}).get("pretrend_check")
        if isinstance(check, Mapping) and num(check.get("pvalue")) is not None:
            details.append(
                {
                    "analysis": name,
                    "pvalue": num(check.get("pvalue")),
                    "method": str(check.get("method") or "permutation"),
                    "alpha": alpha_of(d),
                }
            )
            continue
        pre = d.get("pretrend")
        if not isinstance(pre, Mapping) or num(pre.get("pvalue")) is None:
            continue
        if pre.get("warnings"):
            ignored.append(name)
            continue
        details.append(
            {
                "analysis": name,
                "pvalue": num(pre.get("pvalue")),
                "method": str(pre.get("method") or "Wald test"),
                "alpha": alpha_of(d),
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


def check_placebos(
    names: Sequence[str], analyses: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    details = []
    for name in names:
        d = analyses[name]
        est = num(d.get("estimate"))
        if est is None:
            continue
        details.append(
            {
                "analysis": name,
                "estimate": est,
                "ci": list(ci_of(d) or ()) or None,
                "pvalue": num(d.get("pvalue")),
                "significant": signif(d, both=False) != 0,
            }
        )
    failed = [x for x in details if x["significant"]]
    status = "fail" if failed else ("pass" if details else "not checked")

    def one(x: dict[str, Any]) -> str:
        p = f", p = {x['pvalue']:.3g}" if x["pvalue"] is not None else ""
        ci = (
            f", CI [{fmt_num(x['ci'][0])}, {fmt_num(x['ci'][1])}]"
            if x["ci"] is not None
            else ""
        )
        return f"{x['analysis']} {fmt_num(x['estimate'])}{ci}{p}"

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


def check_selection(
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
        p = num(sel.get("pvalue"))
        flag = sel.get("flag", sel.get("flagged"))
        if not isinstance(flag, bool):
            if p is None:
                continue
            flag = p < alpha_of(analyses[name])
        details.append(
            {
                "analysis": name,
                "flag": flag,
                "pvalue": p,
                "statistic": num(sel.get("statistic")),
                "direction": sel.get("direction") or None,
                "level_percentile": num(sel.get("level_percentile")),
                "trend_percentile": num(sel.get("trend_percentile")),
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


def power_from_simulation(
    name: str,
    d: Mapping[str, Any],
    n_star: int | None,
    eoi: tuple[float, str] | None,
    scale: Scale,
) -> dict[str, Any] | None:
    table = d.get("table")
    if not isinstance(table, list) or not table:
        return None
    rows = [
        r
        for r in table
        if isinstance(r, Mapping)
        and num(r.get("n_treated")) is not None
        and num(r.get("effect")) is not None
        and num(r.get("power")) is not None
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
    alpha = alpha_of(d)
    mde_map = d.get("mde") if isinstance(d.get("mde"), Mapping) else {}
    mde = num(mde_map.get(str(n))) if mde_map else None
    out: dict[str, Any] = {
        "source": f"power analysis {name!r} (simulation)",
        "analysis": name,
        "n_treated": n,
        "mde": mde,
        "scale": effect_type,
        "power_target": TARGET_POWER,
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
        if top_power >= TARGET_POWER:
            out["power_at_effect_of_interest"] = top_power
            out["at_least"] = True
        else:
            out["note"] = (note + "; " if note else "") + (
                "the effect of interest lies beyond the simulated effects"
            )
        return out
    out["power_at_effect_of_interest"] = pw
    return out


def power_from_designs(
    names: Sequence[str],
    notes: Mapping[str, Mapping[str, Any]],
    eoi: tuple[float, str] | None,
    scale: Scale,
) -> dict[str, Any] | None:
    found = []
    for name in names:
        det = (notes.get(name) or {}).get("design_detail")
        if not isinstance(det, Mapping):
            continue
        mde = num(det.get("mde"))
        if mde is None or mde <= 0:
            continue
        found.append((name, det, mde))
    if not found:
        return None
    mdes = [m for _, _, m in found]
    mde = float(median(mdes))
    det = found[0][1]
    alpha = num(det.get("alpha")) or 0.05
    target = num(det.get("power")) or TARGET_POWER
    ns = [int(x) for _, d, _ in found if (x := num(d.get("n_treated"))) is not None]
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
    own = Scale(scale.baseline, bool(det.get("log_outcome")) or scale.log)
    units = abs(value) if eoi_scale == "absolute" else own.to_units(value)
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


def power_text(power: dict[str, Any] | None, eoi_text: str | None, scale: Scale) -> str:
    if power is None:
        return "Power: not assessed (add a power analysis or set design = true in [study])."
    parts = []
    n = power.get("n_treated")
    with_n = f"with {n} treated units " if n else ""
    mde = power.get("mde")
    if mde is not None:
        if power["scale"] == "relative":
            units = None if scale.log else scale.to_units(mde)
            m = (
                f"{pct(mde)} or more ("
                + (f"about {fmt_num(units)} in outcome units; " if units else "")
                + "a fall or a rise)"
            )
        elif scale.log:
            m = (
                f"{mde:.3g} log points or more (a fall of "
                f"{pct(-math.expm1(-mde))}, a rise of {pct(math.expm1(mde))})"
            )
        else:
            rel = scale.to_relative(mde)
            m = f"{fmt_num(mde)} or more in outcome units" + (
                f" ({pct(rel)})" if rel else ""
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
