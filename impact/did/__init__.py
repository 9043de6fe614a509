"""Difference-in-differences: 2x2, TWFE, event study, Callaway-Sant'Anna, Sun-Abraham,
Goodman-Bacon.

``impact.did`` at the top level is the function :func:`impact.did.api.did`; this
subpackage stays importable by module path (``impact.did.api``, ``impact.did.cs``),
also as ``import impact.did.cs as cs``: Python resolves that through the attribute
``impact.did``, the function, so every submodule imported is also set on the function.
"""

from __future__ import annotations

import sys
import types
from typing import Any

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


def _is_submodule(package: str, name: str, value: Any) -> bool:
    return isinstance(value, types.ModuleType) and value.__name__ == f"{package}.{name}"


class _Package(types.ModuleType):
    """This package, mirroring each submodule the import system sets on it onto the
    function ``did`` (what ``impact.did`` names), so ``import impact.did.cs as cs``
    finds the module instead of failing on the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if _is_submodule(self.__name__, name, value):
            setattr(did, name, value)


def _mirror_imported() -> None:
    """Set the submodules imported so far (while this package was loading) on ``did``."""
    for _full, _module in list(sys.modules.items()):
        _name = _full.removeprefix(f"{__name__}.")
        if (
            _name != _full
            and "." not in _name
            and _is_submodule(__name__, _name, _module)
        ):
            setattr(did, _name, _module)


_mirror_imported()
sys.modules[__name__].__class__ = _Package
