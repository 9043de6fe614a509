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
- ``"descriptive"``: anything else (e.g. a Goodman-Bacon decomposition, or an analysis
  whose own ``outcome=`` names another column), not weighed.

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
``1 - exp(-m)``). An analysis that analyses the log on its own (``log_outcome`` in its
``to_dict()``) is judged on that scale; when the estimates mix log and level scales their
intervals are not compared with each other.

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

from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any

from impact.study._verdict_evidence import (
    TARGET_POWER,
    Scale,
    check_placebos,
    check_pretrends,
    check_selection,
    ci_of,
    fmt_num,
    is_significant,
    num,
    power_from_designs,
    power_from_simulation,
    power_text,
    signif,
)

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


def analysis_role(
    estimator: str, *, placebo_shift: int | None = None, other_outcome: bool = False
) -> str:
    """Classify an analysis for the verdict.

    Parameters
    ----------
    estimator : str
        The study's estimator name (``did``, ``synth``, ``power``, ...).
    placebo_shift : int, optional
        The analysis's ``sample.placebo_shift``.
    other_outcome : bool, default False
        The analysis's own ``outcome=`` names another column than the study's
        outcome (its estimate is in other units and answers another question).

    Returns
    -------
    str
        ``"estimate"``, ``"placebo"``, ``"power"`` or ``"descriptive"``.
    """
    if estimator == "power":
        return "power"
    if other_outcome:
        return "descriptive"
    if placebo_shift:
        return "placebo"
    if estimator in _EFFECT_ESTIMATORS:
        return "estimate"
    return "descriptive"


# ---------------------------------------------------------------- estimates
def _estimates_summary(
    names: Sequence[str],
    analyses: Mapping[str, Mapping[str, Any]],
    direction: int,
    mixed_scales: bool = False,
) -> dict[str, Any]:
    ests = {n: float(analyses[n]["estimate"]) for n in names}
    # intervals on a log and on a level scale cannot be compared
    cis = (
        {}
        if mixed_scales
        else {n: ci for n in names if (ci := ci_of(analyses[n])) is not None}
    )
    sig = {n: signif(analyses[n], both=True) for n in names}
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
        "mixed_scales": mixed_scales,
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
        text = f"Estimates: one effect estimate ({est['analyses'][0]}), {fmt_num(lo)}"
    else:
        text = (
            f"Estimates: {n} effect estimates range from {fmt_num(lo)} to {fmt_num(hi)}"
        )
    if n > 1:
        text += f"; all {word}" if est["same_sign"] else "; they disagree in sign"
        if est["ci_overlap"] is not None:
            a, b = est["ci_overlap"]
            text += (
                f"; their confidence intervals overlap ({fmt_num(a)} to {fmt_num(b)})"
            )
        elif est.get("mixed_scales"):
            text += (
                "; some are on a log scale and some on the outcome's own, so their "
                "intervals are not compared"
            )
        elif est["cis_overlap"] is False and any(
            ci_of(analyses[x]) for x in est["analyses"]
        ):
            text += "; their confidence intervals do not all overlap"
    sig = est["significant"]
    against = est["significant_against"]
    if n == 1:
        text += "; significant" if sig else "; not significant"
    elif not sig:
        text += "; none significant"
    elif len(sig) == n:
        text += "; all significant"
    else:
        not_sig = [x for x in est["analyses"] if x not in sig]
        text += (
            f"; {len(sig)} of {n} significant ({', '.join(sig)}); not significant: "
            f"{', '.join(not_sig)}"
        )
    if against:
        text += f"; significant in the other direction: {', '.join(against)}"
    return text + "."


def _robustness(
    robustness: Sequence[Mapping[str, Any]], estimate_names: Sequence[str]
) -> dict[str, Any]:
    grids: list[dict[str, Any]] = []
    for rec in robustness:
        if rec.get("base") not in estimate_names:
            continue
        summ = rec.get("summary") or {}
        share = num(summ.get("share_same_sign_as_base"))
        grids.append(
            {
                "name": rec.get("name"),
                "base": rec.get("base"),
                "n_variants": summ.get("n_variants"),
                "share_same_sign_as_base": share,
                "share_ci_excludes_zero": num(summ.get("share_ci_excludes_zero")),
                "range": [num(summ.get("min")), num(summ.get("max"))],
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
            s += f", {fmt_num(lo)} to {fmt_num(hi)}"
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
    names = [
        n
        for n, r in roles.items()
        if r == "estimate"
        and n in analyses
        and num(analyses[n].get("estimate")) is not None
    ]
    # an analysis may analyse the log of the outcome on its own (its log_outcome key)
    logs = {
        n: bool(log_outcome or analyses[n].get("log_outcome") is True) for n in names
    }
    scale = Scale(num(baseline), bool(log_outcome or (logs and all(logs.values()))))
    mixed_scales = len(set(logs.values())) > 1
    placebos = [n for n, r in roles.items() if r == "placebo" and n in analyses]
    powers = [n for n, r in roles.items() if r == "power" and n in analyses]
    eoi = (
        (float(effect_of_interest), effect_scale)
        if effect_of_interest is not None
        else None
    )
    eoi_text = scale.describe(eoi[0], eoi[1]) if eoi else None

    diagnostics = {
        "pretrends": check_pretrends(names, analyses, notes),
        "placebo_in_time": check_placebos(placebos, analyses),
        "selection": check_selection(names, analyses),
    }
    n_star = None
    ns = [int(v) for n in names if (v := num(analyses[n].get("n_treated"))) is not None]
    if ns:
        n_star = int(median(ns))
    power = None
    for name in powers:
        power = power_from_simulation(name, analyses[name], n_star, eoi, scale)
        if power is not None:
            break
    if power is None:
        power = power_from_designs(names, notes, eoi, scale)
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
    pw_text = power_text(power, eoi_text, scale)

    if not names:
        out["headline"] = (
            "Inconclusive: no analysis in this study estimates the programme's effect."
        )
        out["reasons"] = [
            "No effect estimate: the study has no did, synth, matched_did or match "
            "analysis outside placebos.",
            *diag_texts,
            pw_text,
        ]
        return out

    if eoi is not None:
        direction = 1 if eoi[0] > 0 else -1
    else:
        med = median(float(analyses[n]["estimate"]) for n in names)
        direction = (med > 0) - (med < 0)
    est = _estimates_summary(names, analyses, direction, mixed_scales)
    out["estimates"] = est
    rob = _robustness(robustness, names)
    out["robustness"] = rob
    est_text = _estimates_text(est, analyses)
    rob_text = _robustness_text(rob)
    sel = diagnostics["selection"]
    if sel["status"] == "fail" and direction != 0:
        # regression to the mean moves flagged adopters back towards the average: say
        # whether that would create or work against the direction the estimates show
        after = {"high": -1, "rising": -1, "low": 1, "falling": 1}
        pulls = {after.get(str(x.get("direction"))) for x in sel["tests"] if x["flag"]}
        if pulls == {-direction}:
            word = "rise" if direction > 0 else "fall"
            extra = (
                f" Regression to the mean would pull the estimates the other way, "
                f"against the {word} they show, but the adopters and the comparison "
                "units still differed before adoption."
            )
            sel["text"] += extra
            diag_texts = [
                t + extra if t.startswith("Selection:") else t for t in diag_texts
            ]
    failed = [k for k, v in diagnostics.items() if v["status"] == "fail"]
    passed_texts = [diagnostics[k]["text"] for k in diagnostics if k not in failed]
    tail = [t for t in [rob_text] if t]

    def finish(conclusion: str, headline: str, first: list[str]) -> dict[str, Any]:
        out["conclusion"] = conclusion
        out["headline"] = f"{_HEADLINES[conclusion]}: {headline}"
        rest = [est_text, *diag_texts, pw_text, *tail]
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
                [pw_text, est_text],
            )
        if rob["fragile"]:
            return finish(
                "inconclusive",
                f"the estimates agree on a {dir_word}, but robustness grid(s) "
                f"{', '.join(map(str, rob['fragile']))} change its sign in more than "
                f"{1 - _MIN_ROBUST_SIGN_SHARE:.0%} of variants.",
                [t for t in [rob_text, est_text] if t],
            )
        names_of = {
            "pretrends": "pre-trends",
            "placebo_in_time": "placebo in time",
            "selection": "selection",
        }
        unchecked = [
            names_of.get(k, k)
            for k, v in diagnostics.items()
            if v["status"] == "not checked"
        ]
        caveat = f" ({', '.join(unchecked)} not checked)" if unchecked else ""
        return finish(
            "supported",
            (
                f"the only effect estimate ({names[0]}) is a significant {dir_word} "
                f"({fmt_num(est['range'][0])})"
                if len(names) == 1
                else f"the estimates agree on a {dir_word} "
                f"({fmt_num(est['range'][0])} to {fmt_num(est['range'][1])})"
            )
            + f" and the diagnostics that were run pass{caveat}.",
            [est_text, *passed_texts],
        )

    # 4. the effect of interest ruled out
    if eoi is not None:
        # the effect of interest in each analysis's own units
        targets = [
            (
                (eoi[0] if not mixed_scales else None)
                if eoi[1] == "absolute"
                else Scale(scale.baseline, logs[n]).to_units(eoi[0])
            )
            for n in names
        ]
        cis = [ci_of(analyses[n]) for n in names]
        if (
            all(t is not None for t in targets)
            and all(c is not None for c in cis)
            and not est["significant"]
            and all(
                (c[0] > t) if direction < 0 else (c[1] < t)
                for c, t in zip(cis, targets, strict=True)
                if c is not None and t is not None
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
        if pw is not None and pw < TARGET_POWER and not _at_least(power):
            return finish(
                "not_detectable",
                f"the design had about {pw:.0%} power against {eoi_text}; the "
                "estimates can neither confirm nor rule it out.",
                [pw_text, est_text],
            )
    # 6. the rest
    why = []
    if not est["same_sign"]:
        why.append("the estimates disagree in sign")
    if est["cis_overlap"] is False and est["ci_overlap"] is None:
        why.append("their confidence intervals do not overlap")
    if 2 * len(est["significant"]) <= len(names):
        k = len(est["significant"])
        why.append(
            f"only {k} of {len(names)} estimates are significant"
            if k
            else (
                "the estimate is not significant"
                if len(names) == 1
                else f"none of the {len(names)} estimates is significant"
            )
        )
    if eoi is None:
        why.append("no effect of interest is stated to judge a null result against")
    return finish(
        "inconclusive",
        ("; ".join(why) or "the estimates do not settle the question") + ".",
        [est_text],
    )
