"""impact: honest evaluation of area-level programmes.

Difference-in-differences (2x2, TWFE, event study, Callaway-Sant'Anna, Sun-Abraham,
Goodman-Bacon), synthetic control (Abadie, augmented, synthetic DiD), propensity
matching, inference that stays valid with few treated areas, and power.

The distribution is called ``impact-evaluation`` on the package index (the name
``impact`` belongs to another project); the import name is ``impact``.
"""

import importlib.metadata as _metadata

from impact import data, errors
from impact.did.api import bacon, did
from impact.matching.api import match, matched_did
from impact.panel import Panel, as_panel
from impact.results import Result
from impact.synth.api import synth

from impact import power  # isort: skip  (power sits above the estimators)
from impact.comparison import compare  # isort: skip  (reads every result kind)

#: Name of the distribution on the package index (``pip install impact-evaluation``).
DISTRIBUTION = "impact-evaluation"

try:
    __version__: str = _metadata.version(DISTRIBUTION)
except (
    _metadata.PackageNotFoundError
):  # pragma: no cover - running from a bare source tree
    __version__ = "0+unknown"

__all__ = [
    "DISTRIBUTION",
    "Panel",
    "Result",
    "__version__",
    "as_panel",
    "bacon",
    "compare",
    "data",
    "did",
    "errors",
    "match",
    "matched_did",
    "power",
    "show_versions",
    "synth",
]


def show_versions() -> dict[str, str]:
    """Return the versions of impact and its main dependencies.

    Returns
    -------
    dict of str to str
        Package name to version.
    """
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
            out[name] = _metadata.version(name)
        except _metadata.PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


def __dir__() -> list[str]:
    return sorted(__all__)
