"""Study tasks: the estimator registry and the run of one estimator call.

An analysis or robustness variant becomes a :class:`Task`; :func:`execute_task` runs it
(in a worker, never raising) and returns its ``to_dict()``, summary, figure, power
verdict and permutation pre-trend test.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from impact.errors import ImpactError, SpecError
from impact.results import jsonable
from impact.study._threads import single_blas_thread

__all__ = [
    "ESTIMATORS",
    "PRETEST_PERMUTATIONS",
    "Task",
    "check_kwargs",
    "execute_task",
    "resolve_estimator",
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
