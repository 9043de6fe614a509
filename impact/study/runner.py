"""Run a study: prepare the data, run every analysis and robustness variant, check, write.

Analyses and robustness variants are tasks for :func:`impact.parallel.run_tasks`; each gets
its own child Generator spawned from the study seed in a fixed order, so ``results.json``
is the same whatever the backend or the number of workers.

The jobs live in sibling modules: :mod:`impact.study.tasks` (estimator registry, one
task), :mod:`impact.study.planning` (argument checks before the data is read) and
:mod:`impact.study.quantities` (the ``[[check]]`` tables); their public names are
re-exported here.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from impact.errors import DataError, SpecError
from impact.parallel import run_tasks, spawn_generators
from impact.results import jsonable
from impact.study.data import PreparedData, apply_sample, load_data
from impact.study.planning import Planned, _plan_analysis
from impact.study.planning import check_columns as check_columns
from impact.study.planning import dry_check as dry_check
from impact.study.planning import validate_study as validate_study
from impact.study.quantities import evaluate_check as evaluate_check
from impact.study.quantities import get_quantity as get_quantity
from impact.study.spec import (
    AnalysisSpec,
    StudySpec,
    load_spec,
    resolve_data_path,
)
from impact.study.tasks import ESTIMATORS as ESTIMATORS
from impact.study.tasks import PRETEST_PERMUTATIONS as PRETEST_PERMUTATIONS
from impact.study.tasks import Task as Task
from impact.study.tasks import _call_kwargs, _signature
from impact.study.tasks import _canonical as _canonical
from impact.study.tasks import check_kwargs as check_kwargs
from impact.study.tasks import execute_task as execute_task
from impact.study.tasks import resolve_estimator as resolve_estimator
from impact.study.verdict import analysis_role, study_verdict

__all__ = [
    "ESTIMATORS",
    "StudyRun",
    "evaluate_check",
    "get_quantity",
    "resolve_estimator",
    "run_study",
    "safe_filename",
    "validate_study",
]


def safe_filename(name: str, taken: set[str]) -> str:
    """Return a file stem made of ``[A-Za-z0-9_.-]`` only, unique among ``taken``.

    Parameters
    ----------
    name : str
        An analysis name.
    taken : set of str
        Stems already used (updated in place).

    Returns
    -------
    str
        The stem.
    """
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-") or "analysis"
    stem = stem.replace("..", "_")[:60]
    out, i = stem, 2
    while out.lower() in taken:
        out = f"{stem}_{i}"
        i += 1
    taken.add(out.lower())
    return out


# ---------------------------------------------------------------------- run
@dataclass
class StudyRun:
    """What :func:`run_study` produced."""

    results: dict[str, Any]
    exit_code: int
    out: Path
    files: list[Path] = field(default_factory=list)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import impact

    out = {"python": platform.python_version()}
    show = getattr(impact, "show_versions", None)
    if callable(show):
        out.update({str(k): str(v) for k, v in show().items()})
    for name in ("pydantic",):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            pass
    return out


def run_study(
    spec_path: str | Path,
    *,
    out: str | Path | None = None,
    backend: str | None = None,
    n_jobs: int = 1,
    scheduler: str | None = None,
    seed: int | None = None,
    progress: bool | None = None,
) -> StudyRun:
    """Run a study file and write results.json, report.md, report.html and figures/.

    Parameters
    ----------
    spec_path : str or Path
        The TOML study file.
    out : str or Path, optional
        Output folder (default ``results/<study file stem>``).
    backend : {None, "serial", "joblib", "dask"}
        How analyses and robustness variants run (see :func:`impact.parallel.run_tasks`).
    n_jobs : int, default 1
        Workers.
    scheduler : str, optional
        dask.distributed scheduler address (``backend="dask"``).
    seed : int, optional
        Overrides ``[study] seed``.
    progress : bool, optional
        Progress bar (default: only on a terminal).

    Returns
    -------
    StudyRun
        The results dict, the exit code (0 all checks passed, 1 a check failed) and
        the files written.

    Raises
    ------
    SpecError, DataError
        A bad study file, bad data, or an analysis that could not run.
    """
    from impact.study.output import OutputFolder, check_output_folder, scratch_inside
    from impact.study.robustness import expand_grid, summarise_grid

    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0
    ):
        raise SpecError(
            f"seed (impact run --seed) must be a whole number >= 0; got {seed!r}."
        )
    spec_path = Path(spec_path)
    spec, raw_bytes = load_spec(spec_path)
    source = str(spec_path)
    planned = validate_study(spec, source)
    out_dir = check_output_folder(
        Path(out)
        if out is not None
        else Path("results") / safe_filename(spec_path.stem, set())
    )
    data_path = resolve_data_path(spec, spec_path)
    prepared = load_data(spec.data, data_path, base=spec_path.resolve().parent)
    check_columns(spec, prepared, source)
    study_seed = spec.study.seed if seed is None else int(seed)
    roles = prepared.columns.as_kwargs()

    # analyses first (file order), then every robustness variant (file order)
    items: list[tuple[Planned, bool, str]] = [
        (p, True, f"{source}: analysis {p.key!r}") for p in planned
    ]
    by_name = {a.name: a for a in spec.analysis}
    grids: list[list[tuple[dict[str, Any], str]]] = []
    for r_i, rob in enumerate(spec.robustness):
        where = f"{source}: table [[robustness]] #{r_i + 1} (base {rob.base!r})"
        grid = []
        for v_i, (settings, variant) in enumerate(
            expand_grid(by_name[rob.base], rob, where=where)
        ):
            key = f"robustness[{r_i}][{v_i}]"
            items.append((_plan_analysis(variant, where), False, where))
            items[-1][0].key = key
            grid.append((settings, key))
        grids.append(grid)
    analysis_roles = {
        p.key: analysis_role(
            p.estimator,
            placebo_shift=p.sample.placebo_shift if p.sample is not None else None,
            other_outcome=_other_outcome(p.kwargs, prepared.columns.outcome),
        )
        for p in planned
    }
    # one generator per task, then one per analysis for its permutation pre-trend
    # test (spawned children do not depend on how many are spawned)
    gens = spawn_generators(study_seed, len(items) + len(planned))
    pretest_gens = dict(zip((p.key for p in planned), gens[len(items) :], strict=True))
    tasks = []
    for (p, is_main, where), gen in zip(items, gens[: len(items)], strict=True):
        frame, kwargs = apply_sample(
            prepared.frame, prepared.columns, p.sample, p.kwargs, where=where
        )
        call = _call_kwargs(p.func, roles, kwargs)
        names, _ = _signature(p.func)
        if "seed" in names and "seed" not in kwargs:
            call["seed"] = gen
        multiplies = p.estimator == "power" and call.get("effect_type") != "absolute"
        if spec.data.log_outcome and "log_outcome" in names and not multiplies:
            # the estimator stores the scale (design verdict in log points); a power
            # simulation with relative effects on the log is left to warn, not fail
            call.setdefault("log_outcome", True)
        tasks.append(
            Task(
                p.key,
                p.func,
                frame,
                call,
                plot=is_main,
                design=is_main and spec.study.design,
                log_outcome=spec.data.log_outcome,
                pretest=is_main and analysis_roles.get(p.key) == "estimate",
                pretest_seed=pretest_gens.get(p.key),
            )
        )
    with scratch_inside(out_dir) as scratch:
        outputs = run_tasks(
            execute_task,
            tasks,
            backend=backend,
            n_jobs=n_jobs,
            progress=progress,
            desc=spec.study.title[:30],
            scheduler=scheduler,
            scratch=scratch,
        )
    by_key = {o["key"]: o for o in outputs}

    analyses: dict[str, Any] = {}
    for p in planned:
        o = by_key[p.key]
        if o["error"] is not None:
            raise (DataError if o.get("error_kind") == "impact" else SpecError)(
                f"{source}: analysis {p.key!r} ({p.estimator}) failed: {o['error']}"
            )
        analyses[p.key] = o["dict"]

    robustness = []
    for rob, grid in zip(spec.robustness, grids, strict=True):
        robustness.append(
            summarise_grid(rob, analyses[rob.base], [(s, by_key[k]) for s, k in grid])
        )
    checks = [evaluate_check(c, analyses) for c in spec.check]

    with OutputFolder(out_dir) as folder:
        results, written = _write_outputs(
            folder,
            spec,
            spec_path,
            raw_bytes,
            study_seed,
            data_path,
            prepared,
            planned,
            by_key,
            by_name,
            analyses,
            robustness,
            checks,
            analysis_roles,
        )
    exit_code = 0 if all(c["passed"] for c in checks) else 1
    return StudyRun(results, exit_code, out_dir, written)


def _write_outputs(
    folder: Any,
    spec: StudySpec,
    spec_path: Path,
    raw_bytes: bytes,
    study_seed: int,
    data_path: Path,
    prepared: Any,
    planned: list[Planned],
    by_key: dict[str, Any],
    by_name: dict[str, AnalysisSpec],
    analyses: dict[str, Any],
    robustness: list[dict[str, Any]],
    checks: list[dict[str, Any]],
    analysis_roles: dict[str, str],
) -> tuple[dict[str, Any], list[Path]]:
    """Stage figures, results.json and the reports in ``folder``, then publish them."""
    from impact.study.report import write_reports
    from impact.study.robustness import spec_curve_png

    taken: set[str] = set()
    figures: dict[str, str] = {}
    notes: dict[str, dict[str, Any]] = {}
    for p in planned:
        o = by_key[p.key]
        stem = safe_filename(p.key, taken)
        if o.get("png"):
            rel = f"figures/{stem}.png"
            folder.write_bytes(rel, o["png"])
            figures[p.key] = rel
        notes[p.key] = {
            "estimator": p.estimator,
            "label": by_name[p.key].label,
            "summary": o.get("summary"),
            "plot_error": o.get("plot_error"),
            "design": o.get("design"),
            "design_detail": o.get("design_detail"),
            "pretrend_check": o.get("pretrend_check"),
            "role": analysis_roles[p.key],
            "runtime_warnings": o.get("runtime_warnings", []),
        }
    for i, rob_rec in enumerate(robustness):
        png = spec_curve_png(rob_rec, outcome=prepared.columns.outcome)
        if png is not None:
            stem = safe_filename(f"spec_curve_{rob_rec['name']}", taken)
            rel = f"figures/{stem}.png"
            folder.write_bytes(rel, png)
            rob_rec["figure"] = rel
        else:
            rob_rec["figure"] = None
        robustness[i] = rob_rec

    verdict = study_verdict(
        analyses,
        roles=analysis_roles,
        notes=notes,
        robustness=robustness,
        effect_of_interest=spec.study.effect_of_interest,
        effect_scale=spec.study.effect_scale,
        baseline=treated_baseline(prepared),
        log_outcome=spec.data.log_outcome,
    )
    results: dict[str, Any] = {
        "study": {
            "title": spec.study.title,
            "source": spec.study.source,
            "description": spec.study.description,
            "file": spec_path.name,
        },
        "verdict": verdict,
        "seed": study_seed,
        "spec_sha256": hashlib.sha256(raw_bytes).hexdigest(),
        "data": {
            "path": spec.data.path,
            "file": data_path.name,
            "sha256": prepared.sha256,
            "rows": int(len(prepared.frame)),
            "n_units": _nunique(prepared.frame, prepared.columns.unit),
            "n_periods": _nunique(prepared.frame, prepared.columns.time),
            "notes": prepared.notes,
        },
        "spec": json.loads(json.dumps(spec.model_dump(mode="json"), default=str)),
        "analyses": analyses,
        "robustness": robustness,
        "checks": checks,
        "figures": figures,
        "notes": notes,
        "versions": _versions(),
    }
    results = jsonable(results)
    text = json.dumps(results, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    # the reports embed the staged figures; results.json is published last
    write_reports(results, folder.staging, folder.join)
    folder.write_text("results.json", text)
    return results, folder.publish()


def _other_outcome(kwargs: Mapping[str, Any], study_outcome: str | None) -> bool:
    """Whether an analysis's own ``outcome=`` (first of a list) is not the study's."""
    own = kwargs.get("outcome")
    if isinstance(own, list):
        own = own[0] if own else None
    return isinstance(own, str) and study_outcome is not None and own != study_outcome


def treated_baseline(prepared: PreparedData) -> float | None:
    """Mean outcome of the ever-treated units before their adoption.

    Converts an effect of interest between a proportion and outcome units. Without a
    cohort column (or without treated rows before adoption) it is the mean outcome of
    every row.

    Parameters
    ----------
    prepared : PreparedData
        The prepared data.

    Returns
    -------
    float or None
        The mean, or None when the outcome is missing or not numeric.
    """
    frame, cols = prepared.frame, prepared.columns
    if cols.outcome is None or cols.outcome not in frame.columns:
        return None
    y = pd.to_numeric(frame[cols.outcome], errors="coerce")
    rows = pd.Series(True, index=frame.index)
    if cols.cohort and cols.time and cols.cohort in frame.columns:
        cohort = pd.to_numeric(frame[cols.cohort], errors="coerce")
        time = pd.to_numeric(frame[cols.time], errors="coerce")
        pre = cohort.notna() & np.isfinite(cohort) & (cohort > 0) & (time < cohort)
        if pre.any():
            rows = pre
    value = float(y[rows].mean())
    return value if np.isfinite(value) else None


def _nunique(frame: pd.DataFrame, col: str | None) -> int | None:
    if col is None or col not in frame.columns:
        return None
    return int(frame[col].nunique())
