"""Side-by-side table of analyses, like fixest's ``etable``: :func:`compare`.

Exported as ``impact.compare``; the module is ``impact.comparison`` so that the name
``impact.compare`` is the function, never shadowed by its module.

One column per analysis, one row per quantity (estimate, standard error, confidence
interval, p-value, inference, treated and comparison units, pre-trend test, minimum
detectable effect, warnings). Rows say what they hold: a power analysis has no
estimate, only a minimum detectable effect (MDE) in the "MDE (80% power)" row; a
pre-trend test appears only under the event studies that have one, with the test named.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Comparison", "compare"]

_ROLE_TEXT = {
    "estimate": "effect",
    "placebo": "placebo in time",
    "power": "power (MDE)",
    "descriptive": "descriptive",
}

_TIDY_COLUMNS = [
    "analysis",
    "label",
    "role",
    "estimator",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "alpha",
    "pvalue",
    "inference",
    "n_treated",
    "n_control",
    "pretrend_pvalue",
    "pretrend_method",
    "pretrend_valid",
    "mde",
    "mde_relative",
    "mde_scale",
    "mde_method",
    "n_warnings",
]


def _num(x: Any) -> float | None:
    if isinstance(x, (bool, np.bool_)) or not isinstance(
        x, (int, float, np.integer, np.floating)
    ):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _int(x: Any) -> int | None:
    v = _num(x)
    return int(v) if v is not None else None


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "—"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.{digits}g}" if abs(x) >= 1000 else f"{x:.3f}"


def _p(x: float | None) -> str:
    if x is None:
        return "—"
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def _pct(r: float) -> str:
    a = 100 * abs(r)
    return f"{a:.3g}%" if a >= 99.5 else f"{a:.2g}%"


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        return dict(obj)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        from impact.results import jsonable

        out = jsonable(to_dict())
        if isinstance(out, dict):
            return out
    raise TypeError(
        f"compare() takes results (objects with to_dict()) or their dicts; got "
        f"{type(obj).__name__}"
    )


def _role_of(d: Mapping[str, Any]) -> str:
    est = str(d.get("estimator") or "")
    if est.startswith("power") or ("table" in d and "mde" in d):
        return "power"
    if est.startswith("bacon"):
        return "descriptive"
    return "estimate"


def _inference(d: Mapping[str, Any], role: str) -> str | None:
    if role == "power":
        table = d.get("table")
        rows: list[Any] = table if isinstance(table, list) else []
        sims = {_int(r.get("n_sims")) for r in rows if isinstance(r, Mapping)}
        sims.discard(None)
        n = f" ({max(s for s in sims if s is not None)} draws)" if sims else ""
        return f"simulation{n}"
    for key in ("inference", "se_method"):
        v = d.get(key)
        if isinstance(v, str) and v:
            return v
    if d.get("placebo_pvalue") is not None:
        return "placebo"
    return None


def _pretrend(
    d: Mapping[str, Any], note: Mapping[str, Any]
) -> tuple[float | None, str | None, bool | None]:
    """(p-value, method, valid): the runner's permutation test first, else the result's."""
    check = note.get("pretrend_check")
    if isinstance(check, Mapping) and _num(check.get("pvalue")) is not None:
        return (
            _num(check.get("pvalue")),
            str(check.get("method") or "permutation"),
            True,
        )
    pre = d.get("pretrend")
    if isinstance(pre, Mapping) and _num(pre.get("pvalue")) is not None:
        method = str(pre.get("method") or "Wald test")
        return _num(pre.get("pvalue")), method, not pre.get("warnings")
    return None, None, None


def _records(
    name: str, d: Mapping[str, Any], note: Mapping[str, Any], role: str | None
) -> list[dict[str, Any]]:
    role = role or _role_of(d)
    raw_ci = d.get("ci")
    ci: list[Any] = list(raw_ci) if isinstance(raw_ci, (list, tuple)) else []
    ci = (ci + [None, None])[:2]
    raw_warn = d.get("warnings")
    warnings: list[Any] = raw_warn if isinstance(raw_warn, list) else []
    runtime = note.get("runtime_warnings")
    n_warn = len(warnings) + (len(runtime) if isinstance(runtime, list) else 0)
    pre_p, pre_m, pre_ok = _pretrend(d, note)
    base: dict[str, Any] = {
        "analysis": name,
        "label": note.get("label") or d.get("label") or name,
        "role": role,
        "estimator": str(d.get("estimator") or note.get("estimator") or ""),
        "estimate": _num(d.get("estimate")),
        "se": _num(d.get("se")),
        "ci_low": _num(ci[0]),
        "ci_high": _num(ci[1]),
        "alpha": _num(d.get("alpha")) or 0.05,
        "pvalue": _num(d.get("pvalue")),
        "inference": _inference(d, role),
        "n_treated": _int(d.get("n_treated")),
        "n_control": _int(d.get("n_control")),
        "pretrend_pvalue": pre_p,
        "pretrend_method": pre_m,
        "pretrend_valid": pre_ok,
        "mde": None,
        "mde_relative": None,
        "mde_scale": None,
        "mde_method": None,
        "n_warnings": n_warn,
    }
    if role == "power":
        # an MDE is not an effect estimate: the power row has no estimate, CI or p
        base.update(estimate=None, se=None, ci_low=None, ci_high=None, pvalue=None)
        raw_mde = d.get("mde")
        mde: Mapping[str, Any] = raw_mde if isinstance(raw_mde, Mapping) else {}
        n_units = _int(d.get("n_units"))
        scale = str(d.get("effect_type") or "absolute")
        out = []
        for n_text, value in sorted(mde.items(), key=lambda kv: float(kv[0])):
            rec = dict(base)
            n = _int(float(n_text))
            rec.update(
                n_treated=n,
                n_control=(
                    n_units - n if n_units is not None and n is not None else None
                ),
                mde=_num(value),
                mde_relative=_num(value) if scale == "relative" else None,
                mde_scale=scale,
                mde_method="simulation",
            )
            out.append(rec)
        return out or [base]
    detail = note.get("design_detail") if role == "estimate" else None
    if isinstance(detail, Mapping) and _num(detail.get("mde")) is not None:
        base.update(
            mde=_num(detail.get("mde")),
            mde_relative=_num(detail.get("mde_relative")),
            mde_scale="absolute",
            mde_method=str(detail.get("method") or "analytic"),
        )
    return [base]


class Comparison:
    """Analyses side by side (what :func:`compare` returns).

    Attributes
    ----------
    table : pandas.DataFrame
        The display table: one column per analysis, one row per quantity (text).
    notes : list of str
        Footnotes to the table (marked † in it).
    """

    def __init__(self, records: list[dict[str, Any]], notes: list[str]) -> None:
        self._tidy = pd.DataFrame(records, columns=_TIDY_COLUMNS)
        self.notes = list(notes)
        self.table = self._display()

    def to_frame(self) -> pd.DataFrame:
        """Return the numbers, one row per analysis (tidy).

        A power analysis has one row per simulated number of treated units, with
        ``mde`` filled and ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``pvalue``
        empty (an MDE is not an estimate).

        Returns
        -------
        pandas.DataFrame
            Columns ``analysis, label, role, estimator, estimate, se, ci_low, ci_high,
            alpha, pvalue, inference, n_treated, n_control, pretrend_pvalue,
            pretrend_method, pretrend_valid, mde, mde_relative, mde_scale, mde_method,
            n_warnings``.
        """
        return self._tidy.copy()

    # ------------------------------------------------------------- display
    def _display(self) -> pd.DataFrame:
        tidy = self._tidy
        names = list(dict.fromkeys(tidy["analysis"]))
        alphas = {float(a) for a in tidy.loc[tidy["role"] != "power", "alpha"]}
        same_level = len(alphas) <= 1
        level = 100 * (1 - (alphas.pop() if alphas else 0.05))
        ci_row = f"{level:.0f}% CI" if same_level else "CI (level)"
        rows: dict[str, dict[str, str]] = {}
        order = [
            "Role",
            "Estimator",
            "Estimate",
            "Std. error",
            ci_row,
            "p-value",
            "Inference",
            "Treated units",
            "Comparison units",
            "Pre-trend test (p)",
            "MDE (80% power)",
            "Warnings",
        ]
        for r in order:
            rows[r] = {}
        for name in names:
            g = tidy[tidy["analysis"] == name]
            first = g.iloc[0]
            role = str(first["role"])
            col = rows
            col["Role"][name] = _ROLE_TEXT.get(role, role)
            col["Estimator"][name] = str(first["estimator"])
            col["Estimate"][name] = _fmt(_num(first["estimate"]))
            col["Std. error"][name] = (
                f"({_fmt(_num(first['se']))})" if _num(first["se"]) is not None else "—"
            )
            lo, hi = _num(first["ci_low"]), _num(first["ci_high"])
            ci = (
                f"[{_fmt(lo)}, {_fmt(hi)}]"
                if lo is not None and hi is not None
                else "—"
            )
            if not same_level and ci != "—":
                ci += f" ({100 * (1 - float(first['alpha'])):.0f}%)"
            col[ci_row][name] = ci
            col["p-value"][name] = _p(_num(first["pvalue"]))
            col["Inference"][name] = str(first["inference"] or "—")
            if role == "power":
                col["Treated units"][name] = ", ".join(
                    str(n) for n in g["n_treated"] if n is not None
                )
                col["Comparison units"][name] = "—"
            else:
                n_t, n_c = _int(first["n_treated"]), _int(first["n_control"])
                col["Treated units"][name] = str(n_t) if n_t is not None else "—"
                col["Comparison units"][name] = str(n_c) if n_c is not None else "—"
            col["Pre-trend test (p)"][name] = self._pretrend_cell(first)
            col["MDE (80% power)"][name] = self._mde_cell(g)
            col["Warnings"][name] = str(int(first["n_warnings"]))
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=names)
        # quantities no analysis has are dropped (e.g. no pre-trend test anywhere)
        keep = [r for r in order if (frame.loc[r] != "—").any() or r in order[:4]]
        return frame.loc[keep].fillna("—")

    def _pretrend_cell(self, rec: pd.Series) -> str:
        p = _num(rec["pretrend_pvalue"])
        if p is None:
            return "—"
        method = str(rec["pretrend_method"] or "")
        short = "permutation" if "permutation" in method.lower() else "Wald"
        cell = f"{_p(p)} ({short})"
        if rec["pretrend_valid"] is False or rec["pretrend_valid"] is np.False_:
            cell += "†"
        return cell

    def _mde_cell(self, g: pd.DataFrame) -> str:
        parts = []
        for _, rec in g.iterrows():
            m = _num(rec["mde"])
            if not isinstance(rec["mde_method"], str):
                continue
            if m is None:
                text = "not reached"
            elif rec["mde_scale"] == "relative":
                text = _pct(m)
            else:
                rel = _num(rec["mde_relative"])
                text = _fmt(m) + (f" ({_pct(rel)})" if rel is not None else "")
            if rec["role"] == "power" and len(g) > 1:
                text = f"{int(rec['n_treated'])} treated {text}"
            parts.append(text)
        if not parts:
            return "—"
        method = str(g.iloc[0]["mde_method"])
        kind = method.split(":")[0].strip() or "analytic"
        return f"{kind}: " + ", ".join(parts)

    def _footnotes(self) -> list[str]:
        notes = list(self.notes)
        tidy = self._tidy
        if (tidy["pretrend_valid"] == False).any():  # noqa: E712 - None means no test
            notes.append(
                "† the analytic pre-trend test warns that it is not valid here (a joint "
                "Wald test over many pre-period estimates with few units per cohort "
                "over-rejects); read the permutation test or the placebo in time."
            )
        if (tidy["role"] == "power").any():
            notes.append(
                "A power analysis estimates no effect: its column gives the minimum "
                "detectable effect at 80% power (effects smaller than this are usually "
                "missed)."
            )
        return notes

    def __str__(self) -> str:
        text = self.table.to_string()
        notes = self._footnotes()
        return text + ("\n" + "\n".join(notes) if notes else "")

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        """The table as escaped HTML (for Jupyter and the study report)."""
        e = html.escape
        head = "".join(f"<th>{e(str(c))}</th>" for c in self.table.columns)
        body = []
        for idx, row in self.table.iterrows():
            # long cells (MDE lists, estimator names) may wrap; numbers do not
            cells = "".join(
                f"<td class='wrap'>{e(str(v))}</td>"
                if len(str(v)) > 14 and not str(v).startswith("[")
                else f"<td>{e(str(v))}</td>"
                for v in row
            )
            body.append(f"<tr><th>{e(str(idx))}</th>{cells}</tr>")
        notes = "".join(f"<p class='meta'>{e(n)}</p>" for n in self._footnotes())
        return (
            "<table class='compare'><thead><tr><th></th>"
            + head
            + "</tr></thead><tbody>"
            + "".join(body)
            + "</tbody></table>"
            + notes
        )

    def to_markdown(self) -> str:
        """The table as a Markdown pipe table (text escaped), with its footnotes.

        Returns
        -------
        str
            Markdown.
        """

        def md(x: Any) -> str:
            s = html.escape(str(x), quote=False).replace("\\", "\\\\")
            s = s.replace("|", "\\|")
            s = re.sub(r"([`*_\[\]#])", r"\\\1", s)
            return " ".join(s.split())

        cols = [md(c) for c in self.table.columns]
        lines = [
            "| | " + " | ".join(cols) + " |",
            "|---|" + "|".join("---" for _ in cols) + "|",
        ]
        for idx, row in self.table.iterrows():
            lines.append(f"| {md(idx)} | " + " | ".join(md(v) for v in row) + " |")
        notes = [md(n) for n in self._footnotes()]
        return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def compare(results: Any, *, names: Sequence[str] | None = None) -> Comparison:
    """Put analyses side by side, like fixest's ``etable``.

    Parameters
    ----------
    results : mapping, sequence, study results or StudyRun
        The analyses: a mapping of name to result (any object with ``to_dict()``, or a
        ``to_dict()`` dict); a list of results (named ``(1)``, ``(2)``, ... unless
        ``names`` is given); or a study's ``results.json`` dict or
        :class:`impact.study.StudyRun`, whose analyses appear in file order with the
        study's roles (effect, placebo in time, power), its permutation pre-trend tests
        and its design MDEs.
    names : sequence of str, optional
        Column names for a list of results.

    Returns
    -------
    Comparison
        ``.table`` (display), ``.to_frame()`` (numbers), ``.to_markdown()``,
        ``_repr_html_()``.

    Raises
    ------
    impact.errors.SpecError
        Nothing to compare, or ``names`` of the wrong length.
    TypeError
        An item that is neither a result nor a dict.
    """
    from impact.errors import SpecError

    study = getattr(results, "results", None)
    if isinstance(study, Mapping) and "analyses" in study:
        results = study
    notes: dict[str, Mapping[str, Any]] = {}
    items: list[tuple[str, Any]]
    if isinstance(results, Mapping) and isinstance(results.get("analyses"), Mapping):
        raw_notes = results.get("notes")
        notes = dict(raw_notes) if isinstance(raw_notes, Mapping) else {}
        items = list(results["analyses"].items())
    elif isinstance(results, Mapping):
        items = [(str(k), v) for k, v in results.items()]
    elif isinstance(results, Sequence) and not isinstance(results, (str, bytes)):
        seq = list(results)
        if names is not None and len(names) != len(seq):
            raise SpecError(
                f"compare() got {len(seq)} results but {len(names)} names; give one "
                "name per result."
            )
        labels = (
            list(names)
            if names is not None
            else [f"({i + 1})" for i in range(len(seq))]
        )
        items = list(zip(labels, seq, strict=True))
    else:
        items = [("(1)", results)]
    if not items:
        raise SpecError("compare() needs at least one result.")
    records: list[dict[str, Any]] = []
    for name, obj in items:
        d = _as_dict(obj)
        note = notes.get(name) or {}
        role = note.get("role") if isinstance(note.get("role"), str) else None
        records.extend(_records(name, d, note, role))
    return Comparison(records, [])
