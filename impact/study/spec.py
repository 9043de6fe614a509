"""Study files: the TOML schema, parsed into pydantic models that refuse unknown keys.

A study file is data, never code: it is parsed with :mod:`tomllib`, validated here, and
nothing in it is evaluated or imported. Estimator names are looked up in a fixed registry
(:data:`impact.study.runner.ESTIMATORS`); every other key of an ``[[analysis]]`` table is a
keyword argument of that estimator, checked against its signature before anything runs.

Beyond the keys of ``DESIGN.md`` ("Study files and the command line"):

- ``[study]``: ``seed`` (default 20240501; ``impact run --seed`` overrides it),
  ``design = true`` (print each analysis's power verdict, ``result.design()``), and
  ``effect_of_interest`` with ``effect_scale = "relative" | "absolute"``: the effect the
  evaluation must be able to detect (e.g. ``-0.05``, a 5% fall, the default scale; or
  ``-3.5`` in outcome units), which the study verdict weighs against the design's
  minimum detectable effect (:mod:`impact.study.verdict`).
- ``[data]``: ``cohort``/``treated``/``weights``/``covariates``/``cluster`` column roles
  (passed to estimators that take them); ``[[data.join]]`` tables (``path``, ``on``,
  ``columns``) left-join columns of further files on key columns, a key matching
  more than one row of the joined file being an error; ``cohorts = {unit = first
  period}`` builds the
  cohort column from a list of adopters; ``keep``/``drop = {column = [values]}`` filter
  rows; ``periods = [first, last]``; ``dropna`` (rows with a missing outcome);
  ``balance`` (drop units missing a period); ``log_outcome``.
- ``[[analysis]]``: ``label`` (report heading) and ``sample = {periods = [a, b],
  exclude_units = [...], placebo_shift = k}``; ``placebo_shift`` moves every adoption k
  periods earlier and keeps only the periods before the first real adoption (placebo in
  time; ``treatment_time`` moves too).
- ``[[robustness]]``: ``vary`` keys are estimator arguments, ``estimator`` or
  ``sample.<field>``; ``name``; ``quantity`` (dotted path, default ``estimate``).
- ``[[check]]``: ``compare = "close" | "less" | "greater"`` (default close, with the
  absolute ``tolerance``) and ``source`` (the citation). ``quantity`` is a dotted path
  into the analysis's ``to_dict()``; list rows are picked by index or by
  ``column=value`` (``aggregates.dynamic.table.event_time=0.estimate``).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from impact.errors import SpecError

__all__ = [
    "AnalysisSpec",
    "CheckSpec",
    "DataSpec",
    "JoinSpec",
    "RobustnessSpec",
    "SampleSpec",
    "StudyInfo",
    "StudySpec",
    "load_spec",
    "parse_spec",
    "resolve_data_path",
]

#: Analysis keys that belong to the study runner rather than to the estimator.
RESERVED_ANALYSIS_KEYS = frozenset({"name", "estimator", "sample", "label"})

_NAME_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,80}$")
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class StudyInfo(_Strict):
    """The ``[study]`` table: what the study is and where its numbers come from."""

    title: str
    source: str | None = None
    description: str | None = None
    seed: int = Field(default=20240501, ge=0)
    design: bool = False
    #: the effect the evaluation must be able to detect (signed: -0.05 is a 5% fall)
    effect_of_interest: float | None = None
    #: "relative": a proportion of the treated units' pre-period outcome; "absolute":
    #: outcome units (log points for a log outcome)
    effect_scale: Literal["relative", "absolute"] = "relative"

    @field_validator("effect_of_interest", mode="before")
    @classmethod
    def _effect(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("must be a number such as -0.05 (a 5% fall)")
        if isinstance(v, int):
            v = float(v)
        if isinstance(v, float) and (not math.isfinite(v) or v == 0.0):
            raise ValueError(
                "must be a finite, non-zero number such as -0.05 (a 5% fall)"
            )
        return v

    @model_validator(mode="after")
    def _relative_above_minus_one(self) -> StudyInfo:
        eoi = self.effect_of_interest
        if eoi is not None and self.effect_scale == "relative" and eoi <= -1.0:
            raise ValueError(
                f"effect_of_interest = {eoi} with effect_scale = 'relative' is a fall of "
                f"{-eoi:.0%}, which is impossible; write a proportion such as -0.05 "
                "(a 5% fall), or set effect_scale = 'absolute' for outcome units"
            )
        return self


class JoinSpec(_Strict):
    """One ``[[data.join]]`` table: columns of a second file, left-joined on keys."""

    #: the second file (``${VAR}`` expanded; relative to the study file)
    path: str
    #: key columns present in both files (e.g. ``["old_la_code", "year"]``)
    on: list[str] = Field(min_length=1)
    #: the columns of the second file to add
    columns: list[str] = Field(min_length=1)


class DataSpec(_Strict):
    """The ``[data]`` table: the file, its column roles and simple, declarative preparation."""

    path: str
    #: further files whose columns are left-joined on key columns (before any filter)
    join: list[JoinSpec] | None = None
    unit: str | None = None
    time: str | None = None
    outcome: str | None = None
    cohort: str | None = None
    treated: str | None = None
    weights: str | None = None
    covariates: list[str] | None = None
    cluster: str | None = None
    #: unit label -> first treated period; builds the ``cohort`` column (others never treated)
    cohorts: dict[str, int] | None = None
    #: keep only rows whose column takes one of the listed values
    keep: dict[str, list[Scalar]] | None = None
    #: drop rows whose column takes one of the listed values
    drop: dict[str, list[Scalar]] | None = None
    #: inclusive [first, last] period window
    periods: list[int] | None = None
    #: drop rows whose outcome is missing
    dropna: bool = False
    #: drop units that do not have a row in every kept period
    balance: bool = False
    #: replace the outcome by its natural logarithm (column ``log_<outcome>``)
    log_outcome: bool = False

    @field_validator("periods")
    @classmethod
    def _two_periods(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (len(v) != 2 or v[0] > v[1]):
            raise ValueError("must be [first, last] with first <= last")
        return v


class SampleSpec(_Strict):
    """An analysis's ``sample`` table: restrictions applied to the prepared data."""

    periods: list[int] | None = None
    exclude_units: list[Scalar] | None = None
    #: placebo in time: move every cohort this many periods earlier, keep only the periods
    #: before the earliest real adoption, and drop units whose fake date falls outside
    placebo_shift: int | None = Field(default=None, ge=1)

    @field_validator("periods")
    @classmethod
    def _two_periods(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (len(v) != 2 or v[0] > v[1]):
            raise ValueError("must be [first, last] with first <= last")
        return v


class AnalysisSpec(BaseModel):
    """One ``[[analysis]]`` table; keys other than the reserved ones are estimator kwargs."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    name: str
    estimator: str
    label: str | None = None
    sample: SampleSpec | None = None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        norm = v.replace("\\", "/")
        if (
            not _NAME_RE.match(v)
            or norm.startswith("/")
            or ".." in norm.split("/")
            or norm.strip() in {"", "."}
        ):
            raise ValueError(
                "must be 1-80 printable characters, not a path ('../' and a leading "
                "'/' are refused)"
            )
        return v

    @property
    def kwargs(self) -> dict[str, Any]:
        """The estimator keyword arguments (every non-reserved key)."""
        return dict(self.model_extra or {})


class RobustnessSpec(_Strict):
    """A ``[[robustness]]`` grid: every combination of ``vary`` applied to ``base``."""

    base: str
    name: str | None = None
    vary: dict[str, list[Any]]
    quantity: str = "estimate"

    @field_validator("vary")
    @classmethod
    def _non_empty(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if not v:
            raise ValueError("needs at least one key")
        for key, values in v.items():
            if not values:
                raise ValueError(f"key {key!r} has an empty list of values")
            if key in {"name", "estimator_name"}:
                raise ValueError(f"key {key!r} cannot be varied")
        return v


class CheckSpec(_Strict):
    """A ``[[check]]``: a published value an analysis must reproduce."""

    analysis: str
    quantity: str
    expected: float = Field(allow_inf_nan=False)
    tolerance: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    compare: Literal["close", "less", "greater"] = "close"
    source: str | None = None


class StudySpec(_Strict):
    """A whole study file."""

    study: StudyInfo
    data: DataSpec
    analysis: list[AnalysisSpec] = Field(min_length=1)
    robustness: list[RobustnessSpec] = Field(default_factory=list)
    check: list[CheckSpec] = Field(default_factory=list)


def _describe_loc(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """Turn a pydantic error location into 'table [data], key 'x'' style text."""
    if not loc:
        return "top level"
    head = loc[0]
    if (
        head in {"analysis", "robustness", "check"}
        and len(loc) > 1
        and isinstance(loc[1], int)
    ):
        idx = loc[1]
        where = f"table [[{head}]] #{idx + 1}"
        items = raw.get(head)
        if (
            isinstance(items, list)
            and idx < len(items)
            and isinstance(items[idx], dict)
        ):
            nm = (
                items[idx].get("name")
                or items[idx].get("base")
                or items[idx].get("analysis")
            )
            if isinstance(nm, str):
                where += f" ({nm!r})"
        rest = loc[2:]
    elif isinstance(head, str) and head in {"study", "data"}:
        where = f"table [{head}]"
        rest = loc[1:]
    else:
        return f"key {head!r}"
    rest = tuple(r for r in rest if not (isinstance(r, str) and r.endswith("]")))
    if rest:
        return f"{where}, key {'.'.join(str(r) for r in rest)!r}"
    return where


def _format_validation(err: ValidationError, raw: dict[str, Any], source: str) -> str:
    first = err.errors()[0]
    where = _describe_loc(tuple(first["loc"]), raw)
    kind = first["type"]
    if kind == "extra_forbidden":
        return f"{source}: {where}: unknown key; remove it or fix its spelling"
    if kind == "missing":
        return f"{source}: {where}: required key is missing"
    msg = str(first["msg"]).replace("\n", " ")
    extra = f" ({len(err.errors()) - 1} more problems)" if len(err.errors()) > 1 else ""
    got = first.get("input")
    if isinstance(got, dict):  # a check across keys: the whole table is no help
        return f"{source}: {where}: {msg}{extra}"
    return f"{source}: {where}: {msg}; got {got!r}{extra}"


def parse_spec(raw: dict[str, Any], *, source: str = "<study>") -> StudySpec:
    """Validate a parsed TOML document as a study.

    Parameters
    ----------
    raw : dict
        The document, as returned by :func:`tomllib.loads`.
    source : str
        The file name used in error messages.

    Returns
    -------
    StudySpec
        The validated study.

    Raises
    ------
    SpecError
        Unknown keys, wrong types, missing keys, duplicated analysis names, or a
        robustness grid or check naming an analysis that does not exist.
    """
    try:
        spec = StudySpec.model_validate(raw)
    except ValidationError as err:
        raise SpecError(_format_validation(err, raw, source)) from None
    names = [a.name for a in spec.analysis]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(
            f"{source}: analysis name {dup[0]!r} is used more than once; "
            "give every [[analysis]] a unique name"
        )
    for i, rob in enumerate(spec.robustness):
        if rob.base not in names:
            raise SpecError(
                f"{source}: table [[robustness]] #{i + 1}, key 'base': no analysis "
                f"named {rob.base!r}; choose one of {names}"
            )
    for i, chk in enumerate(spec.check):
        if chk.analysis not in names:
            raise SpecError(
                f"{source}: table [[check]] #{i + 1}, key 'analysis': no analysis "
                f"named {chk.analysis!r}; choose one of {names}"
            )
    return spec


def load_spec(path: str | os.PathLike[str]) -> tuple[StudySpec, bytes]:
    """Read and validate a study file.

    Parameters
    ----------
    path : str or path-like
        The TOML study file.

    Returns
    -------
    spec : StudySpec
        The validated study.
    raw_bytes : bytes
        The file's bytes (hashed into ``results.json``).

    Raises
    ------
    SpecError
        The file is missing, unreadable, not valid TOML, or not a valid study.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{p}: study file not found; check the path") from None
    except OSError as exc:
        raise SpecError(f"{p}: cannot read the study file ({exc.strerror})") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
        return parse_spec(raw, source=str(p)), data
    except UnicodeDecodeError:
        raise SpecError(f"{p}: the study file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{p}: malformed TOML: {exc}") from None
    except RecursionError:
        raise SpecError(
            f"{p}: the study file nests tables or arrays too deeply to read; a study "
            "file needs only a few levels"
        ) from None


def expand_vars(text: str, *, source: str = "<study>") -> str:
    """Expand ``${VAR}`` environment variables; a variable that is not set is an error.

    Parameters
    ----------
    text : str
        The text, e.g. ``"${IMPACT_REFERENCE_DATA}/smoking.csv"``.
    source : str
        The file name used in error messages.

    Returns
    -------
    str
        The text with every variable replaced.
    """

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        value = os.environ.get(name)
        if value is None:
            raise SpecError(
                f"{source}: table [data], key 'path': environment variable {name!r} is "
                f"not set; set it (e.g. export {name}=...) or write the path out"
            )
        return value

    return _VAR_RE.sub(repl, text)


#: ``[data] path`` prefix naming a synthetic panel shipped with the package.
SYNTHETIC_PREFIX = "synthetic:"


def resolve_data_path(spec: StudySpec, spec_path: str | os.PathLike[str]) -> Path:
    """Return the data file's path: ``${VAR}`` expanded, relative to the study file.

    ``path = "synthetic:NAME.csv"`` names a synthetic panel shipped with the package
    (:func:`impact.data.synthetic_path`), so a study on it runs from an installed wheel.

    Parameters
    ----------
    spec : StudySpec
        The validated study.
    spec_path : str or path-like
        Where the study file is.

    Returns
    -------
    pathlib.Path
        The data file (not checked for existence, except for ``synthetic:`` names).
    """
    if spec.data.path.startswith(SYNTHETIC_PREFIX):
        from impact.data.paths import synthetic_path

        return synthetic_path(spec.data.path[len(SYNTHETIC_PREFIX) :])
    expanded = Path(expand_vars(spec.data.path, source=str(spec_path))).expanduser()
    if not expanded.is_absolute():
        expanded = Path(spec_path).resolve().parent / expanded
    return expanded


def example_studies() -> dict[str, Path]:
    """Return the example studies shipped with the package, by name.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"innovation_synthetic": path}``: from the wheel's ``impact/examples/``, or in a
        source checkout from ``studies/``.
    """
    package = Path(__file__).resolve().parents[1]
    found: dict[str, Path] = {}
    for folder in (package / "examples", package.parent / "studies"):
        for path in sorted(folder.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def resolve_spec_path(spec: str | os.PathLike[str]) -> Path:
    """Return the study file to run: an existing path, or the name of a shipped example.

    Parameters
    ----------
    spec : str or path-like
        A study file (TOML), or the name of an example study such as
        ``"innovation_synthetic"`` (see :func:`example_studies`).

    Returns
    -------
    pathlib.Path
        The study file.

    Raises
    ------
    SpecError
        Neither a file nor the name of a shipped example.
    """
    path = Path(spec)
    if path.exists() or path.suffix:
        return path
    examples = example_studies()
    if str(spec) in examples:
        return examples[str(spec)]
    raise SpecError(
        f"study file {str(spec)!r} not found, and it is not the name of a shipped "
        f"example study (examples: {sorted(examples)}); give the path of a .toml file."
    )
