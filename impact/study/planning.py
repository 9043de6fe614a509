"""Study planning: resolve every analysis and variant and check its arguments before
any data is read (``impact validate`` and the start of ``impact run``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from impact.errors import DataError, SpecError
from impact.study.data import PreparedData
from impact.study.spec import AnalysisSpec, SampleSpec, StudySpec
from impact.study.tasks import _call_kwargs, check_kwargs, resolve_estimator

__all__ = ["Planned", "check_columns", "dry_check", "validate_study"]


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
