"""Robustness grids: variants of one analysis, a summary table and a specification curve."""

from __future__ import annotations

import io
import itertools
import json
import math
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from impact.errors import SpecError
from impact.limits import check_grid
from impact.study.quantities import get_quantity
from impact.study.spec import AnalysisSpec, RobustnessSpec

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["expand_grid", "plot_spec_curve", "spec_curve_png", "summarise_grid"]


def _label(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in settings.items())


def _short(v: Any) -> str:
    """A compact label for a varied value (long lists shortened, at most 40 characters)."""
    if isinstance(v, str):
        text = v
    elif isinstance(v, list) and not v:
        text = "none"
    elif isinstance(v, list) and len(v) > 2 and not isinstance(v[0], (int, float)):
        head = ", ".join(str(x) for x in v[:2])
        text = f"{head} +{len(v) - 2} more"
    else:
        text = json.dumps(v, default=str, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


def _same_value(a: Any, b: Any) -> bool:
    return json.dumps(a, default=str, sort_keys=True) == json.dumps(
        b, default=str, sort_keys=True
    )


def expand_grid(
    base: AnalysisSpec, rob: RobustnessSpec, *, where: str
) -> list[tuple[dict[str, Any], AnalysisSpec]]:
    """Every combination of the ``vary`` values, applied to the base analysis.

    Keys are estimator keyword arguments, ``estimator``, or ``sample.<field>``
    (``sample.periods``, ``sample.exclude_units``, ``sample.placebo_shift``).

    Parameters
    ----------
    base : AnalysisSpec
        The analysis being varied.
    rob : RobustnessSpec
        The grid.
    where : str
        Context for error messages.

    Returns
    -------
    list of (dict, AnalysisSpec)
        The settings of each variant and the variant itself, in grid order.

    Raises
    ------
    SpecError
        A variant is not a valid analysis.
    """
    keys = list(rob.vary)
    # counted before expanding: a grid of ten keys with ten values each is 10**10 variants
    check_grid(math.prod(len(v) for v in rob.vary.values()), where)
    out = []
    for i, combo in enumerate(itertools.product(*(rob.vary[k] for k in keys))):
        settings = dict(zip(keys, combo, strict=True))
        raw: dict[str, Any] = {
            "name": f"{base.name}__v{i + 1}",
            "estimator": base.estimator,
            **base.kwargs,
        }
        sample = base.sample.model_dump(exclude_none=True) if base.sample else {}
        for key, value in settings.items():
            if key.startswith("sample."):
                sample[key.split(".", 1)[1]] = value
            elif key in {"label", "sample"}:
                raise SpecError(f"{where}: key {key!r} cannot be varied")
            else:
                raw[key] = value
        if sample:
            raw["sample"] = sample
        try:
            variant = AnalysisSpec.model_validate(raw)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise SpecError(
                f"{where}, variant {_label(settings)!r}: key {loc!r}: {first['msg']}"
            ) from None
        out.append((settings, variant))
    return out


def _sibling(d: Any, quantity: str, name: str) -> Any:
    if quantity == "estimate":
        path = name
    elif quantity.endswith(".estimate"):
        path = quantity[: -len("estimate")] + name
    else:
        return None
    try:
        return get_quantity(d, path)
    except KeyError:
        return None


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(float(x)) else None


def _row(d: Any, quantity: str) -> dict[str, Any]:
    try:
        est = _num(get_quantity(d, quantity))
    except KeyError:
        est = None
    ci = _sibling(d, quantity, "ci")
    lo = hi = None
    if isinstance(ci, list) and len(ci) == 2:
        lo, hi = _num(ci[0]), _num(ci[1])
    return {
        "estimate": est,
        "se": _num(_sibling(d, quantity, "se")),
        "ci_low": lo,
        "ci_high": hi,
        "pvalue": _num(_sibling(d, quantity, "pvalue")),
        "n_treated": d.get("n_treated") if isinstance(d, dict) else None,
        "n_warnings": len(d.get("warnings") or []) if isinstance(d, dict) else 0,
    }


def summarise_grid(
    rob: RobustnessSpec,
    base_dict: dict[str, Any],
    variants: list[tuple[dict[str, Any], dict[str, Any]]],
) -> dict[str, Any]:
    """Summarise a grid's variants (the robustness entry of ``results.json``).

    Parameters
    ----------
    rob : RobustnessSpec
        The grid.
    base_dict : dict
        The base analysis's to_dict().
    variants : list of (settings, task output)
        Each variant's settings and what :func:`impact.study.tasks.execute_task` returned.

    Returns
    -------
    dict
        ``name, base, quantity, vary, base_row, variants, summary``.
    """
    rows = []
    for i, (settings, output) in enumerate(variants):
        row: dict[str, Any] = {
            "id": i + 1,
            "label": _label(settings),
            "settings": settings,
        }
        if output.get("error"):
            row.update(
                {
                    "estimate": None,
                    "se": None,
                    "ci_low": None,
                    "ci_high": None,
                    "pvalue": None,
                    "n_treated": None,
                    "n_warnings": 0,
                }
            )
            row["error"] = output["error"]
        else:
            row.update(_row(output["dict"], rob.quantity))
            row["error"] = None
        rows.append(row)
    base_row = _row(base_dict, rob.quantity)
    ests = np.array(
        [r["estimate"] for r in rows if r["estimate"] is not None], dtype=float
    )
    summary: dict[str, Any] = {
        "n_variants": len(rows),
        "n_failed": sum(1 for r in rows if r["error"]),
    }
    if ests.size:
        summary.update(
            {
                "median": float(np.median(ests)),
                "min": float(ests.min()),
                "max": float(ests.max()),
            }
        )
        base_est = base_row["estimate"]
        if base_est is not None and base_est != 0:
            summary["share_same_sign_as_base"] = float(
                np.mean(np.sign(ests) == np.sign(base_est))
            )
        with_ci = [
            r for r in rows if r["ci_low"] is not None and r["ci_high"] is not None
        ]
        if with_ci:
            summary["share_ci_excludes_zero"] = float(
                np.mean([(r["ci_low"] > 0) or (r["ci_high"] < 0) for r in with_ci])
            )
    return {
        "name": rob.name or rob.base,
        "base": rob.base,
        "quantity": rob.quantity,
        "vary": rob.vary,
        "base_row": base_row,
        "variants": rows,
        "summary": summary,
    }


def plot_spec_curve(
    record: dict[str, Any],
    *,
    axes: tuple[Axes, Axes] | None = None,
    title: bool | str = True,
    outcome: str | None = None,
    units: str | None = None,
    ylabel: str | None = None,
    xlabel: str | None = None,
) -> tuple[Axes, Axes]:
    """Draw a specification curve: sorted estimates with CIs over a choice matrix.

    Parameters
    ----------
    record : dict
        A robustness entry from :func:`summarise_grid`.
    axes : (Axes, Axes), optional
        The curve and choice-matrix axes; a new figure is made when None.
    title : bool or str, default True
        Put the title on the curve's axes (False when the caller titles the figure;
        a string replaces the default title).
    outcome : str, optional
        Outcome column name for the estimate axis (default: ``record["outcome"]``
        when present).
    units : str, optional
        Units of the outcome (e.g. ``"per 10,000 children"``; default
        ``record["units"]`` when present).
    ylabel, xlabel : str, optional
        Override the estimate-axis and specification-axis labels.

    Returns
    -------
    (Axes, Axes)
        The two axes drawn on.
    """
    if axes is None:
        import matplotlib.pyplot as plt

        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
        )
    else:
        top, bottom = axes
    rows = [r for r in record["variants"] if r["estimate"] is not None]
    base = dict(record["base_row"], label="base analysis", settings={}, id=0)
    if base["estimate"] is not None:
        rows = [*rows, base]
    frame = pd.DataFrame(rows)
    quantity = record["quantity"]
    if frame.empty:
        top.text(
            0.5,
            0.5,
            "no variant produced an estimate",
            ha="center",
            transform=top.transAxes,
        )
        return top, bottom
    frame = frame.sort_values("estimate", kind="mergesort").reset_index(drop=True)
    x = np.arange(len(frame))
    is_base = (frame["id"] == 0).to_numpy()
    est = frame["estimate"].to_numpy(dtype=float)
    lo = pd.to_numeric(frame["ci_low"], errors="coerce").to_numpy(dtype=float)
    hi = pd.to_numeric(frame["ci_high"], errors="coerce").to_numpy(dtype=float)
    has_ci = np.isfinite(lo) & np.isfinite(hi)
    top.vlines(
        x[has_ci],
        lo[has_ci],
        hi[has_ci],
        color="0.6",
        lw=1.5,
        label="95% confidence interval",
    )
    top.scatter(x[~is_base], est[~is_base], color="C0", zorder=3, label="variant")
    if is_base.any():
        top.scatter(
            x[is_base],
            est[is_base],
            color="C1",
            marker="D",
            s=50,
            zorder=4,
            label="base analysis",
        )
    top.axhline(0, color="black", lw=0.8, ls="--")
    top.set_ylabel(
        ylabel
        or _estimate_label(
            quantity,
            outcome or record.get("outcome"),
            units or record.get("units"),
        )
    )
    if isinstance(title, str) and title:
        top.set_title(title, pad=22)
    elif title:
        top.set_title(_title(record, len(frame)), pad=22)
    # legend above the curve, so it never hides an interval
    top.legend(
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncols=3,
        fontsize=8,
        frameon=False,
        borderaxespad=0.2,
    )
    # choice matrix: one row per key=value
    choices: list[tuple[str, Any]] = [
        (k, v) for k, values in record["vary"].items() for v in values
    ]
    labels = [f"{k} = {_short(v)}" for k, v in choices]
    for j, (k, v) in enumerate(choices):
        used = [
            (not b) and _same_value(s.get(k), v)
            for s, b in zip(frame["settings"], is_base, strict=True)
        ]
        xs = x[np.asarray(used, dtype=bool)]
        bottom.scatter(xs, np.full(xs.shape, j), marker="s", color="C0", s=25)
    if is_base.any() and labels:  # the base analysis keeps the study file's settings
        bottom.text(
            float(x[is_base][0]),
            (len(labels) - 1) / 2,
            "as in the\nstudy file",
            ha="center",
            va="center",
            fontsize=7,
            color="C1",
        )
    bottom.set_yticks(range(len(labels)), labels, fontsize=8)
    bottom.set_ylim(-0.7, len(labels) - 0.3)
    bottom.invert_yaxis()
    bottom.set_xlabel(xlabel or "Specification (sorted by estimate)")
    bottom.set_ylabel("Choice made", fontsize=8)
    bottom.set_xticks(
        x, ["base" if i == 0 else f"#{i}" for i in frame["id"]], fontsize=7
    )
    return top, bottom


def _estimate_label(quantity: str, outcome: str | None, units: str | None) -> str:
    """Estimate-axis label: what was estimated, on what, in which units."""
    parts = str(quantity).split(".")
    if parts[-1] in ("estimate", "att"):
        what = "Estimated effect"
        if len(parts) >= 2 and parts[0] == "aggregates":
            what += f" ({' '.join(parts[1:-1])} aggregate)"
        elif len(parts) >= 2:
            what += f" ({' '.join(parts[:-1])})"
    else:
        what = f"Estimated {' '.join(parts).replace('_', ' ')}"
    if outcome:
        what = what.replace("Estimated effect", f"Estimated effect on {outcome}", 1)
    unit_text = units or (f"units of {outcome}" if outcome else "units of the outcome")
    return f"{what}\n({unit_text})"


def _title(record: dict[str, Any], n: int) -> str:
    text = f"Specification curve: {record['name']} ({n} specifications)"
    return "\n".join(textwrap.wrap(text, 70))


def spec_curve_png(
    record: dict[str, Any], *, outcome: str | None = None, units: str | None = None
) -> bytes | None:
    """Render :func:`plot_spec_curve` to PNG bytes (None when nothing to draw).

    Parameters
    ----------
    record : dict
        A robustness entry.
    outcome : str, optional
        Outcome column name, for the estimate axis label.
    units : str, optional
        Units of the outcome, for the estimate axis label.

    Returns
    -------
    bytes or None
        The PNG image.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not any(r["estimate"] is not None for r in record["variants"]):
        return None
    n_choices = sum(len(v) for v in record["vary"].values())
    fig = Figure(figsize=(8, 4 + 0.25 * n_choices), dpi=100)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3, max(1, 0.5 * n_choices)]}
    )
    plot_spec_curve(
        record, axes=(top, bottom), title=False, outcome=outcome, units=units
    )
    n_rows = sum(1 for r in record["variants"] if r["estimate"] is not None) + int(
        record["base_row"].get("estimate") is not None
    )
    fig.suptitle(_title(record, n_rows))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()
