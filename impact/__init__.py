"""impact: honest evaluation of area-level programmes.

Difference-in-differences (2x2, TWFE, event study, Callaway-Sant'Anna, Sun-Abraham,
Goodman-Bacon), synthetic control (Abadie, augmented, synthetic DiD), propensity
matching, inference that stays valid with few treated areas, and power.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from impact import errors
from impact.panel import Panel, as_panel
from impact.results import Result

__version__ = "0.1.0"

__all__ = [
    "Panel",
    "Result",
    "__version__",
    "as_panel",
    "bacon",
    "did",
    "errors",
    "match",
    "matched_did",
    "power",
    "show_versions",
    "synth",
]


def _optional(module: str, name: str) -> Any:
    # Estimator families are imported eagerly so that the functions `impact.did` and
    # `impact.synth` shadow their subpackages of the same name.
    try:
        return getattr(import_module(module), name)
    except ImportError:  # pragma: no cover - only while a family is being written
        return None


did = _optional("impact.did.api", "did")
bacon = _optional("impact.did.api", "bacon")
synth = _optional("impact.synth.api", "synth")
match = _optional("impact.matching.api", "match")
matched_did = _optional("impact.matching.api", "matched_did")
power: Any
try:
    power = import_module("impact.power")
except ImportError:  # pragma: no cover
    power = None


def show_versions() -> dict[str, str]:
    """Return the versions of impact and its main dependencies.

    Returns
    -------
    dict of str to str
        Package name to version.
    """
    from importlib.metadata import PackageNotFoundError, version

    names = [
        "numpy",
        "scipy",
        "pandas",
        "statsmodels",
        "linearmodels",
        "matplotlib",
        "joblib",
    ]
    out = {"impact": __version__}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out
