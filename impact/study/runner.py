"""Run a study: prepare the data, run every analysis and robustness variant, check, write.

Analyses and robustness variants are tasks for :func:`impact.parallel.run_tasks`; each gets
its own child Generator spawned from the study seed in a fixed order, so ``results.json``
is the same whatever the backend or the number of workers.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import json
import platform
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from impact.errors import DataError, ImpactError, SpecError
from impact.parallel import run_tasks, spawn_generators
from impact.results import jsonable
from impact.study._threads import single_blas_thread
from impact.study.data import PreparedData, apply_sample, load_data
from impact.study.spec import (
    AnalysisSpec,
    CheckSpec,
    SampleSpec,
    StudySpec,
    load_spec,
    resolve_data_path,
)
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

#: Estimator names a study may use -> "module:attribute" (imported lazily) or a callable.
ESTIMATORS: dict[str, str | Callable[..., Any]] = {
    "did": "impact.did.api:did",
    "bacon": "impact.did.api:bacon",
    "synth": "impact.synth.api:synth",
    "match": "impact.matching.api:match",
    "matched_did": "impact.matching.api:matched_did",
    "power": "impact.power:simulate",
}

_ROLE_NAMES = (
    "unit",
    "time",
    "outcome",
    "cohort",
    "treated",
    "weights",
    "covariates",
    "cluster",
)


def resolve_estimator(name: str, *, where: str = "") -> Callable[..., Any]:
    """Return the callable registered under ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`ESTIMATORS`.
    where : str
        Context for error messages (file and table).

    Returns
    -------
    callable
        The estimator function.

    Raises
    ------
    SpecError
        The name is not registered, or its module is not available.
    """
    prefix = f"{where}: " if where else ""
    target = ESTIMATORS.get(name)
    if target is None:
        allowed = "{" + ", ".join(repr(k) for k in ESTIMATORS) + "}"
        raise SpecError(
            f"{prefix}key 'estimator' must be one of {allowed}. Got {name!r} instead."
        )
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    try:
        func = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        raise SpecError(
            f"{prefix}estimator {name!r} is not available in this installation of impact"
        ) from None
    if not callable(func):
        raise SpecError(f"{prefix}estimator {name!r} is not callable")
    return func  # type: ignore[no-any-return]


def _signature(func: Callable[..., Any]) -> tuple[set[str], bool]:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return set(), True
    names = {p.name for p in params.values() if p.kind is not p.VAR_KEYWORD}
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    return names, var_kw


def check_kwargs(
    func: Callable[..., Any], kwargs: Mapping[str, Any], where: str
) -> None:
    """Refuse keyword arguments the estimator does not take.

    Parameters
    ----------
    func : callable
        The estimator.
    kwargs : mapping
        Keyword arguments from the study file.
    where : str
        Context for error messages.

    Raises
    ------
    SpecError
        A key is not a parameter of the estimator.
    """
    names, var_kw = _signature(func)
    if var_kw:
        return
    for key in kwargs:
        if key not in names or key == "data":
            allowed = sorted(n for n in names if n != "data")
            raise SpecError(
                f"{where}: unknown key {key!r}: not a parameter of "
                f"{getattr(func, '__name__', 'the estimator')}; accepted: "
                f"{', '.join(allowed)}"
            )


def _call_kwargs(
    func: Callable[..., Any], roles: Mapping[str, Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Data roles the estimator takes by name, overridden by the analysis's own keys."""
    names, _ = _signature(func)
    out: dict[str, Any] = {}
    for role, col in roles.items():
        if role in names:
            out[role] = col
    if "treatment" in names and "treated" in roles and "treated" not in names:
        out["treatment"] = roles["treated"]
    out.update(kwargs)
    return out


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


# ---------------------------------------------------------------------- tasks
@dataclass
class Task:
    """One estimator call: an analysis or a robustness variant."""

    key: str
    func: Callable[..., Any]
    frame: pd.DataFrame
    kwargs: dict[str, Any]
    plot: bool = True
    design: bool = False
    log_outcome: bool = False
    #: run a permutation pre-trend test (event-time coefficients) for the study verdict
    pretest: bool = False
    pretest_seed: Any = None


#: re-assignments of the permutation pre-trend test the study verdict reads
PRETEST_PERMUTATIONS = 99


def _png(result: Any) -> tuple[bytes | None, str | None]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    try:
        fig = Figure(figsize=(7.5, 4.6), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        result.plot(ax=ax)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
        return buf.getvalue(), None
    except Exception as exc:  # noqa: BLE001 - a plot failure must not stop a study
        return None, f"{type(exc).__name__}: {_one_line(str(exc))}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:500]


def _design_detail(design: Any) -> dict[str, Any] | None:
    """The assessment's numbers (MDE, power, alpha...), JSON-safe, when it has them."""
    to_dict = getattr(design, "to_dict", None)
    if not callable(to_dict):
        return None
    try:
        out = jsonable(to_dict())
        json.dumps(out, allow_nan=False)
    except Exception:  # noqa: BLE001 - optional detail
        return None
    return out if isinstance(out, dict) else None


def _design(result: Any) -> tuple[str | None, dict[str, Any] | None]:
    try:
        d = result.design()
    except Exception as exc:  # noqa: BLE001 - the verdict is optional
        return f"power assessment unavailable: {_one_line(str(exc))}", None
    return _design_text(d), _design_detail(d)


def _pretest(result: Any, seed: Any) -> dict[str, Any] | None:
    """Permutation test of the event-time pre-period coefficients, or None.

    The analytic Wald test in ``to_dict()["pretrend"]`` over-rejects when cohorts are
    small; the verdict needs a test valid for the number of treated units at hand.
    """
    test = getattr(result, "pretrend_test", None)
    if not callable(test):
        return None
    try:
        out = test(
            "event_time",
            inference="permutation",
            n_perm=PRETEST_PERMUTATIONS,
            seed=seed,
        )
        rec = jsonable(out.to_dict())
        json.dumps(rec, allow_nan=False)
    except Exception:  # noqa: BLE001 - the verdict then reads the result's own test
        return None
    if not isinstance(rec, dict):
        return None
    rec["method"] = (
        "permutation test of the event-time pre-period coefficients "
        f"({PRETEST_PERMUTATIONS} re-assignments of the cohorts)"
    )
    return rec


def _design_text(d: Any) -> str | None:
    for attr in ("verdict", "text", "message"):
        v = getattr(d, attr, None)
        if isinstance(v, str):
            return _one_line(v)
        if callable(v):
            try:
                out = v()
            except Exception:  # noqa: BLE001
                continue
            if isinstance(out, str):
                return _one_line(out)
    if isinstance(d, Mapping) and isinstance(d.get("verdict"), str):
        return _one_line(d["verdict"])
    return _one_line(str(d))


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rebuild a frame column by column, so its memory layout does not depend on how it
    travelled (pickled by loky, serialised by dask or passed as is): numpy reductions
    over differently laid-out blocks can differ in the last bits."""
    return pd.DataFrame(
        {c: frame[c].copy(deep=True).reset_index(drop=True) for c in frame.columns}
    )


def execute_task(task: Task) -> dict[str, Any]:
    """Run one task; never raises (errors are returned as text).

    Parameters
    ----------
    task : Task
        The estimator call.

    Returns
    -------
    dict
        ``key``, ``dict`` (the result's to_dict, JSON-safe) or ``error``, ``summary``,
        ``png``, ``plot_error``, ``design``, ``runtime_warnings``.
    """
    out: dict[str, Any] = {"key": task.key, "error": None, "dict": None}
    with single_blas_thread(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = task.func(_canonical(task.frame), **task.kwargs)
            if task.log_outcome:
                # the power verdict reads the MDE in log points, not as a level
                result.log_outcome = True
            as_dict = jsonable(result.to_dict())
            json.dumps(as_dict, allow_nan=False)
        except ImpactError as exc:
            out["error"] = f"{type(exc).__name__}: {_one_line(str(exc))}"
            out["error_kind"] = "impact"
            return out
        except Exception as exc:  # noqa: BLE001 - reported, never a traceback
            out["error"] = f"{type(exc).__name__}: {_one_line(str(exc))}"
            out["error_kind"] = "internal"
            return out
        out["dict"] = as_dict
        if task.plot:
            try:
                out["summary"] = str(result.summary())
            except Exception as exc:  # noqa: BLE001
                out["summary"] = f"(summary unavailable: {_one_line(str(exc))})"
            out["png"], out["plot_error"] = _png(result)
        if task.design:
            out["design"], out["design_detail"] = _design(result)
        if task.pretest and isinstance(as_dict.get("pretrend"), Mapping):
            out["pretrend_check"] = _pretest(result, task.pretest_seed)
    seen: list[str] = []
    for w in caught:
        text = _one_line(str(w.message))
        if text not in seen:
            seen.append(text)
    out["runtime_warnings"] = seen
    return out


# --------------------------------------------------------------- quantities
def get_quantity(obj: Any, path: str) -> Any:
    """Follow a dotted path into nested dicts and lists (``"weights.Utah"``).

    Keys that themselves contain dots are matched greedily; list items are addressed by
    integer index or by a ``column=value`` selector (the first row whose column equals
    the value), e.g. ``"aggregates.dynamic.table.event_time=0.estimate"``.

    Parameters
    ----------
    obj : Any
        A to_dict() result.
    path : str
        The dotted path.

    Returns
    -------
    Any
        The value.

    Raises
    ------
    KeyError
        The path does not exist (the message names the first missing part).
    """
    parts = path.split(".")
    cur = obj
    i = 0
    while i < len(parts):
        if isinstance(cur, Mapping):
            for j in range(len(parts), i, -1):
                key = ".".join(parts[i:j])
                if key in cur:
                    cur = cur[key]
                    i = j
                    break
            else:
                keys = ", ".join(list(map(str, cur))[:15])
                raise KeyError(f"{parts[i]!r} not found (available: {keys})")
        elif isinstance(cur, list) and "=" in parts[i]:
            for j in range(len(parts), i, -1):
                col, _, want = ".".join(parts[i:j]).partition("=")
                hits = [
                    r for r in cur if isinstance(r, Mapping) and _same(r.get(col), want)
                ]
                if hits:
                    cur = hits[0]
                    i = j
                    break
            else:
                raise KeyError(f"no row with {parts[i]!r} in a list of {len(cur)}")
        elif isinstance(cur, list):
            try:
                cur = cur[int(parts[i])]
            except (ValueError, IndexError):
                raise KeyError(
                    f"{parts[i]!r} is not an index of a list of {len(cur)}"
                ) from None
            i += 1
        else:
            raise KeyError(f"{parts[i]!r}: {'.'.join(parts[:i])} is not a table")
    return cur


def _same(value: Any, text: str) -> bool:
    """Whether a row value equals the text of a ``column=value`` selector."""
    if value is None:
        return False
    if str(value) == text:
        return True
    try:
        return float(value) == float(text)
    except (TypeError, ValueError):
        return False


def evaluate_check(check: CheckSpec, analyses: Mapping[str, Any]) -> dict[str, Any]:
    """Compare one analysis quantity with its published value.

    Parameters
    ----------
    check : CheckSpec
        The check.
    analyses : mapping
        Analysis name -> to_dict().

    Returns
    -------
    dict
        ``analysis, quantity, expected, actual, tolerance, compare, passed, source, note``.
    """
    rec: dict[str, Any] = {
        "analysis": check.analysis,
        "quantity": check.quantity,
        "expected": check.expected,
        "actual": None,
        "tolerance": check.tolerance,
        "compare": check.compare,
        "passed": False,
        "source": check.source,
        "note": None,
    }
    try:
        value = get_quantity(analyses[check.analysis], check.quantity)
    except KeyError as exc:
        rec["note"] = f"quantity not found: {exc.args[0]}"
        return rec
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        rec["note"] = f"quantity is not a number: {_one_line(repr(value))[:80]}"
        return rec
    actual = float(value)
    rec["actual"] = actual
    if not np.isfinite(actual):
        rec["note"] = "quantity is not finite"
        return rec
    if check.compare == "close":
        rec["passed"] = bool(abs(actual - check.expected) <= check.tolerance + 1e-12)
    elif check.compare == "less":
        rec["passed"] = bool(actual < check.expected + check.tolerance)
    else:
        rec["passed"] = bool(actual > check.expected - check.tolerance)
    return rec


# ----------------------------------------------------------------- planning
@dataclass
class Planned:
    """An analysis or variant ready to run."""

    key: str
    estimator: str
    func: Callable[..., Any]
    kwargs: dict[str, Any]
    sample: SampleSpec | None


class _ArgumentsChecked(BaseException):
    """Raised when a dry-run estimator reaches its data: its argument checks passed.

    A BaseException so that no ``except Exception`` inside an estimator swallows it.
    """


class _NoData:
    """Stands in for the data in a dry run of an estimator: touching it ends the run."""

    def __getattr__(self, name: str) -> Any:
        raise _ArgumentsChecked

    def __getitem__(self, key: Any) -> Any:
        raise _ArgumentsChecked

    def __len__(self) -> int:
        raise _ArgumentsChecked

    def __iter__(self) -> Any:
        raise _ArgumentsChecked

    def __contains__(self, item: Any) -> bool:
        raise _ArgumentsChecked


def dry_check(func: Callable[..., Any], call: Mapping[str, Any], where: str) -> None:
    """Run an estimator's own argument checks without data (``impact validate``).

    The estimator is called with a stand-in for the data; every check it makes before
    touching the data (option strings, types, counts, unknown options behind
    ``**options``) runs exactly as in ``impact run``. Only argument errors
    (:class:`SpecError`) are reported; anything that depends on the data is left to the
    run.

    Parameters
    ----------
    func : callable
        The estimator.
    call : mapping
        Its keyword arguments (data roles and the analysis's keys).
    where : str
        Context for error messages.

    Raises
    ------
    SpecError
        An argument the estimator refuses.
    """
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            func(_NoData(), **call)
    except _ArgumentsChecked:
        return
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    except Exception:  # noqa: BLE001 - data-dependent failures belong to the run
        return


def _roles_from_spec(spec: StudySpec) -> dict[str, Any]:
    d = spec.data
    roles = {
        "unit": d.unit,
        "time": d.time,
        "outcome": d.outcome,
        "cohort": d.cohort
        if d.cohort is not None
        else ("cohort" if d.cohorts else None),
        "treated": d.treated,
        "weights": d.weights,
        "covariates": d.covariates,
        "cluster": d.cluster,
    }
    return {k: v for k, v in roles.items() if v is not None}


def _plan_analysis(a: AnalysisSpec, where: str) -> Planned:
    func = resolve_estimator(a.estimator, where=where)
    check_kwargs(func, a.kwargs, where)
    return Planned(a.name, a.estimator, func, a.kwargs, a.sample)


def validate_study(spec: StudySpec, source: str) -> list[Planned]:
    """Resolve every estimator and check every analysis and variant's keys.

    Parameters
    ----------
    spec : StudySpec
        The study.
    source : str
        The file name, for messages.

    Returns
    -------
    list of Planned
        The analyses, in file order.
    """
    from impact.study.robustness import expand_grid

    roles = _roles_from_spec(spec)
    planned = []
    for i, a in enumerate(spec.analysis):
        where = f"{source}: table [[analysis]] #{i + 1} ({a.name!r})"
        p = _plan_analysis(a, where)
        dry_check(p.func, _call_kwargs(p.func, roles, p.kwargs), where)
        planned.append(p)
    by_name = {a.name: a for a in spec.analysis}
    for i, rob in enumerate(spec.robustness):
        where = f"{source}: table [[robustness]] #{i + 1} (base {rob.base!r})"
        for _, variant in expand_grid(by_name[rob.base], rob, where=where):
            p = _plan_analysis(variant, where)
            dry_check(p.func, _call_kwargs(p.func, roles, p.kwargs), where)
    return planned


def check_columns(spec: StudySpec, prepared: PreparedData, source: str) -> None:
    """Refuse analysis keys that name a data role with a column absent from the data.

    Parameters
    ----------
    spec : StudySpec
        The study.
    prepared : PreparedData
        The prepared data.
    source : str
        The file name, for messages.
    """
    cols = set(prepared.frame.columns)
    for i, a in enumerate(spec.analysis):
        for role in (
            "outcome",
            "unit",
            "time",
            "cohort",
            "treated",
            "treatment",
            "weights",
            "cluster",
        ):
            value = a.kwargs.get(role)
            if isinstance(value, str) and value not in cols:
                raise DataError(
                    f"{source}: table [[analysis]] #{i + 1} ({a.name!r}), key {role!r}: "
                    f"column {value!r} is not in {prepared.path.name}"
                )
        for role in ("covariates",):
            value = a.kwargs.get(role)
            if isinstance(value, list):
                for v in value:
                    if isinstance(v, str) and v not in cols:
                        raise DataError(
                            f"{source}: table [[analysis]] #{i + 1} ({a.name!r}), key "
                            f"{role!r}: column {v!r} is not in {prepared.path.name}"
                        )


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


def _safe_join(out: Path, rel: str) -> Path:
    target = (out / rel).resolve()
    root = out.resolve()
    if target != root and root not in target.parents:
        raise SpecError(
            f"refusing to write {rel!r} outside the output folder {str(out)!r}"
        )
    return target


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
