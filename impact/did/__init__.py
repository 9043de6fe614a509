"""Difference-in-differences: 2x2, TWFE, event study, Callaway-Sant'Anna, Sun-Abraham,
Goodman-Bacon.

``impact.did`` at the top level is the function :func:`impact.did.api.did`; this
subpackage stays importable by module path (``impact.did.api``, ``impact.did.cs``),
also as ``import impact.did.cs as cs``: Python resolves that through the attribute
``impact.did``, the function, so every submodule imported is also set on the function.
"""

from __future__ import annotations

from impact._submodule_alias import mirror_submodules
from impact.did.api import bacon, did
from impact.did.bacon import BaconResult
from impact.did.honest import SensitivityResult, honest_sensitivity
from impact.did.results import DiDResult, PretrendTest

__all__ = [
    "BaconResult",
    "DiDResult",
    "PretrendTest",
    "SensitivityResult",
    "bacon",
    "did",
    "honest_sensitivity",
]


mirror_submodules(__name__, did)
