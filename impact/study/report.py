"""Study reports: Markdown (for review in git) and self-contained HTML (figures inlined).

Both open with the study's verdict and its reasons (:mod:`impact.study.verdict`), then
the analyses side by side (:func:`impact.compare`), then the checks, each analysis in
detail and the robustness grids.

Every piece of text that comes from a study file or from data (titles, unit names,
warnings, summaries) is escaped, so a unit named ``<script>alert(1)</script>`` shows as
text in both reports.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["render_html", "render_markdown", "write_reports"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:1.8em}h3{margin-top:1.4em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f7f7f7;border:1px solid #e2e2e2;padding:.7em;overflow-x:auto;font-size:.82em}
tr.pass td:nth-child(6),p.pass{color:#116611;font-weight:600}
tr.fail td:nth-child(6),p.fail{color:#b00020;font-weight:600}
.warn{background:#fff8e1;border-left:4px solid #f0b400;padding:.4em .8em;margin:.5em 0}
.verdict{background:#eef5ff;border-left:4px solid #3d7be0;padding:.4em .8em;margin:.5em 0}
.meta{color:#555;font-size:.9em}img{max-width:100%;height:auto;border:1px solid #eee}
#verdict{border:2px solid #888;border-left-width:10px;padding:.5em 1.1em .7em;margin:1em 0 1.4em;
background:#f6f6f6}#verdict h2{margin:.2em 0 .3em;border:0;font-size:1.35em}
#verdict p.headline{font-size:1.08em;font-weight:600;margin:.2em 0 .5em}
#verdict ul{margin:.3em 0;padding-left:1.3em}#verdict li{margin:.25em 0}
#verdict.supported{border-color:#1b7a34;background:#eef8f0}
#verdict.inconclusive{border-color:#7a7a7a;background:#f4f4f4}
#verdict.not_detectable{border-color:#b37400;background:#fff6e5}
#verdict.unreliable{border-color:#b00020;background:#fdecee}
#verdict.not_supported{border-color:#5b2c91;background:#f3eefa}
table.compare{font-size:.8em}table.compare th{white-space:nowrap}
table.compare td{white-space:nowrap}
table.compare td.wrap{white-space:normal;min-width:6em}
.scroll{overflow-x:auto}
"""


def _fmt(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return "—"
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
            return f"{x:.4g}"
        if abs(x) >= 1000:
            return f"{x:,.1f}"
        return f"{x:.4f}"
    return str(x)


def _ci(ci: Any) -> str:
    if isinstance(ci, list) and len(ci) == 2:
        return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"
    return "—"


def _e(text: Any) -> str:
    """Escape for HTML (text and attribute values)."""
    return html.escape("" if text is None else str(text), quote=True)


def _md(text: Any) -> str:
    """Escape for Markdown: no raw HTML, no table breaks, no emphasis surprises."""
    s = html.escape("" if text is None else str(text), quote=False)
    s = s.replace("\\", "\\\\").replace("|", "\\|")
    s = re.sub(r"([`*_\[\]#])", r"\\\1", s)
    return " ".join(s.split())


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+|~+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


_CHECK_HEAD = [
    "analysis",
    "quantity",
    "expected",
    "actual",
    "tolerance",
    "result",
    "source",
]
_ROB_HEAD = [
    "#",
    "variant",
    "estimate",
    "std. error",
    "CI",
    "p-value",
    "treated",
    "note",
]


def _check_rows(results: dict[str, Any]) -> list[tuple[list[str], bool]]:
    out = []
    for c in results.get("checks", []):
        tol = _fmt(c.get("tolerance"))
        extra = f" + {tol}" if c.get("tolerance") else ""
        if c.get("compare") == "less":
            tol = f"< expected{extra}"
        elif c.get("compare") == "greater":
            tol = f"> expected{extra.replace('+', '−')}"
        else:
            tol = f"± {tol}"
        verdict = "pass" if c.get("passed") else "FAIL"
        if c.get("note"):
            verdict += f" ({c['note']})"
        out.append(
            (
                [
                    c.get("analysis"),
                    c.get("quantity"),
                    _fmt(c.get("expected")),
                    _fmt(c.get("actual")),
                    tol,
                    verdict,
                    c.get("source") or "",
                ],
                bool(c.get("passed")),
            )
        )
    return out


def _rob_rows(rec: dict[str, Any]) -> list[list[str]]:
    rows = []
    for r in rec.get("variants", []):
        rows.append(
            [
                str(r.get("id")),
                r.get("label", ""),
                _fmt(r.get("estimate")),
                _fmt(r.get("se")),
                _ci([r.get("ci_low"), r.get("ci_high")]),
                _fmt(r.get("pvalue")),
                _fmt(r.get("n_treated")),
                r.get("error")
                or (f"{r['n_warnings']} warnings" if r.get("n_warnings") else ""),
            ]
        )
    return rows


def _rob_summary(rec: dict[str, Any]) -> str:
    s = rec.get("summary", {})
    parts = [f"{s.get('n_variants', 0)} variants"]
    if s.get("n_failed"):
        parts.append(f"{s['n_failed']} failed")
    if "median" in s:
        parts.append(
            f"estimates from {_fmt(s['min'])} to {_fmt(s['max'])} (median {_fmt(s['median'])})"
        )
    base = rec.get("base_row", {}).get("estimate")
    parts.append(f"base analysis {_fmt(base)}")
    if "share_same_sign_as_base" in s:
        parts.append(f"{100 * s['share_same_sign_as_base']:.0f}% with the base's sign")
    if "share_ci_excludes_zero" in s:
        parts.append(
            f"{100 * s['share_ci_excludes_zero']:.0f}% with a CI excluding zero"
        )
    return "; ".join(parts)


def _meta_lines(results: dict[str, Any]) -> list[tuple[str, str]]:
    st = results.get("study", {})
    data = results.get("data", {})
    lines = [
        ("Study file", st.get("file")),
        ("Data", f"{data.get('path')} (sha256 {str(data.get('sha256', ''))[:16]}…)"),
        (
            "Rows / units / periods",
            f"{_fmt(data.get('rows'))} / {_fmt(data.get('n_units'))} / "
            f"{_fmt(data.get('n_periods'))}",
        ),
        ("Seed", str(results.get("seed"))),
        ("Spec sha256", str(results.get("spec_sha256", ""))[:16] + "…"),
    ]
    if st.get("source"):
        lines.insert(0, ("Source", st["source"]))
    for note in data.get("notes") or []:
        lines.append(("Data note", note))
    return [(k, str(v)) for k, v in lines]


def _verdict(results: dict[str, Any]) -> tuple[str, str, str, list[str]] | None:
    """(conclusion key, heading, headline, reasons), or None for an older results.json."""
    from impact.study.verdict import verdict_parts

    v = results.get("verdict")
    parts = verdict_parts(v)
    if parts is None:
        return None
    key, name, headline = parts
    reasons = [
        str(r) for r in (v.get("reasons") if isinstance(v, dict) else None) or []
    ]
    return key, f"Verdict: {name}", headline, reasons


def _comparison(results: dict[str, Any]) -> Any:
    """The analyses side by side, or None when there is nothing to compare."""
    from impact.comparison import compare

    if not results.get("analyses"):
        return None
    try:
        return compare(results)
    except (TypeError, ValueError):  # a hand-edited results.json: skip the table
        return None


# ------------------------------------------------------------------ markdown
def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = [
        "| " + " | ".join(_md(h) for h in head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    out.extend("| " + " | ".join(_md(c) for c in row) + " |" for row in rows)
    return out


def render_markdown(results: dict[str, Any]) -> str:
    """Render the Markdown report.

    Parameters
    ----------
    results : dict
        The contents of ``results.json``.

    Returns
    -------
    str
        Markdown; figures are linked as ``figures/<name>.png``.
    """
    st = results.get("study", {})
    lines = [f"# {_md(st.get('title'))}", ""]
    verdict = _verdict(results)
    if verdict is not None:
        _, heading, headline, reasons = verdict
        lines += [f"## {_md(heading)}", "", f"**{_md(headline)}**", ""]
        lines += [f"- {_md(r)}" for r in reasons] + [""]
    table = _comparison(results)
    if table is not None:
        lines += ["## Analyses side by side", "", table.to_markdown()]
    if st.get("description"):
        lines += [_md(st["description"]), ""]
    for k, v in _meta_lines(results):
        lines.append(f"- **{_md(k)}**: {_md(v)}")
    lines.append("")
    checks = _check_rows(results)
    if checks:
        n_pass = sum(ok for _, ok in checks)
        lines += [
            "## Checks against published or known values",
            "",
            f"{n_pass} of {len(checks)} checks passed.",
            "",
        ]
        lines += _md_table(_CHECK_HEAD, [r for r, _ in checks])
        lines.append("")
    lines += ["## Analyses", ""]
    notes = results.get("notes", {})
    figures = results.get("figures", {})
    for name, d in results.get("analyses", {}).items():
        n = notes.get(name, {})
        title = n.get("label") or name
        lines += [f"### {_md(title)}", ""]
        if n.get("summary"):
            lines += [_fence(str(n["summary"])), ""]
        warns = list(d.get("warnings") or []) + list(n.get("runtime_warnings") or [])
        if warns:
            lines += ["**Warnings**", ""] + [f"- {_md(w)}" for w in warns] + [""]
        if n.get("design") and n["design"] not in str(n.get("summary") or ""):
            lines += [f"**Power**: {_md(n['design'])}", ""]
        if name in figures:
            lines += [f"![{_md(title)}]({figures[name]})", ""]
        elif n.get("plot_error"):
            lines += [f"_No figure: {_md(n['plot_error'])}_", ""]
    for rec in results.get("robustness", []):
        lines += [
            f"## Robustness: {_md(rec.get('name'))}",
            "",
            _md(_rob_summary(rec)),
            "",
        ]
        lines += _md_table(_ROB_HEAD, _rob_rows(rec))
        lines.append("")
        if rec.get("figure"):
            lines += [f"![Specification curve]({rec['figure']})", ""]
    lines += ["## Versions", ""]
    lines += [f"- {_md(k)} {_md(v)}" for k, v in results.get("versions", {}).items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- html
def _html_table(
    head: list[str], rows: list[list[str]], classes: list[str] | None = None
) -> str:
    out = ["<table><thead><tr>"]
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        cls = f' class="{_e(classes[i])}"' if classes else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _img(out_dir: Path, rel: str | None, alt: str) -> str:
    if not rel:
        return ""
    from impact.errors import SpecError
    from impact.study.output import read_inside

    try:
        # only files inside the run folder: results.json is input, not trusted
        data = base64.b64encode(read_inside(out_dir, str(rel))).decode("ascii")
    except SpecError:
        return f"<p class='warn'>Figure {_e(rel)} is outside the run folder; not shown.</p>"
    except OSError:
        return f"<p class='warn'>Figure {_e(rel)} is missing.</p>"
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}"></figure>'


def render_html(results: dict[str, Any], out_dir: Path) -> str:
    """Render the self-contained HTML report (figures inlined as base64 PNG).

    Parameters
    ----------
    results : dict
        The contents of ``results.json``.
    out_dir : pathlib.Path
        The run's output folder (figures are read from it).

    Returns
    -------
    str
        An HTML document with no external resources and no scripts.
    """
    st = results.get("study", {})
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{_e(st.get('title'))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(st.get('title'))}</h1>",
    ]
    verdict = _verdict(results)
    if verdict is not None:
        key, heading, headline, reasons = verdict
        items = "".join(f"<li>{_e(r)}</li>" for r in reasons)
        parts.append(
            f"<section id='verdict' class='{_e(key)}'><h2>{_e(heading)}</h2>"
            f"<p class='headline'>{_e(headline)}</p><ul>{items}</ul></section>"
        )
    table = _comparison(results)
    if table is not None:
        parts.append("<h2>Analyses side by side</h2>")
        parts.append(f"<div class='scroll'>{table._repr_html_()}</div>")
    if st.get("description"):
        parts.append(f"<p>{_e(st['description'])}</p>")
    parts.append("<table class='meta'>")
    parts += [
        f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in _meta_lines(results)
    ]
    parts.append("</table>")
    checks = _check_rows(results)
    if checks:
        n_pass = sum(ok for _, ok in checks)
        cls = "pass" if n_pass == len(checks) else "fail"
        parts.append("<h2>Checks against published or known values</h2>")
        parts.append(f"<p class='{cls}'>{n_pass} of {len(checks)} checks passed.</p>")
        parts.append(
            _html_table(
                _CHECK_HEAD,
                [r for r, _ in checks],
                ["pass" if ok else "fail" for _, ok in checks],
            )
        )
    parts.append("<h2>Analyses</h2>")
    notes = results.get("notes", {})
    figures = results.get("figures", {})
    for name, d in results.get("analyses", {}).items():
        n = notes.get(name, {})
        title = n.get("label") or name
        parts.append(f"<h3>{_e(title)}</h3>")
        if n.get("summary"):
            parts.append(f"<pre>{_e(n['summary'])}</pre>")
        warns = list(d.get("warnings") or []) + list(n.get("runtime_warnings") or [])
        if warns:
            items = "".join(f"<li>{_e(w)}</li>" for w in warns)
            parts.append(
                f"<div class='warn'><strong>Warnings</strong><ul>{items}</ul></div>"
            )
        if n.get("design") and n["design"] not in str(n.get("summary") or ""):
            parts.append(
                f"<div class='verdict'><strong>Power:</strong> {_e(n['design'])}</div>"
            )
        if name in figures:
            parts.append(_img(out_dir, figures[name], f"Figure: {title}"))
        elif n.get("plot_error"):
            parts.append(f"<p class='meta'>No figure: {_e(n['plot_error'])}</p>")
    for rec in results.get("robustness", []):
        parts.append(f"<h2>Robustness: {_e(rec.get('name'))}</h2>")
        parts.append(f"<p>{_e(_rob_summary(rec))}</p>")
        parts.append(_html_table(_ROB_HEAD, _rob_rows(rec)))
        parts.append(
            _img(out_dir, rec.get("figure"), f"Specification curve: {rec.get('name')}")
        )
    parts.append("<h2>Versions</h2><p class='meta'>")
    parts.append(
        ", ".join(f"{_e(k)} {_e(v)}" for k, v in results.get("versions", {}).items())
    )
    parts.append("</p></body></html>")
    return "\n".join(parts) + "\n"


def write_reports(
    results: dict[str, Any],
    out_dir: Path,
    safe_join: Callable[[Path, str], Path],
) -> list[Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir``.

    Parameters
    ----------
    results : dict
        The contents of ``results.json``.
    out_dir : pathlib.Path
        The output folder.
    safe_join : callable
        ``safe_join(out_dir, relative)`` -> a path guaranteed inside ``out_dir``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    md = safe_join(out_dir, "report.md")
    md.write_text(render_markdown(results), encoding="utf-8")
    page = safe_join(out_dir, "report.html")
    page.write_text(render_html(results, out_dir), encoding="utf-8")
    return [md, page]
