"""Synthetic control methods: Abadie SCM, augmented SCM, synthetic DiD, placebo inference.

The public entry point is :func:`impact.synth` (this package's :func:`synth`).
``impact.synth`` at the top level is that function; this subpackage stays importable
by module path (``impact.synth.api``, ``impact.synth.sdid``), also as
``import impact.synth.sdid as sdid``: Python resolves that through the attribute
``impact.synth``, the function, so every submodule imported is also set on the function.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from impact.synth.api import synth
from impact.synth.results import PlaceboTest, SynthResult
from impact.synth.weights import simplex_weights

__all__ = ["PlaceboTest", "SynthResult", "simplex_weights", "synth"]


def _is_submodule(package: str, name: str, value: Any) -> bool:
    return isinstance(value, types.ModuleType) and value.__name__ == f"{package}.{name}"


class _Package(types.ModuleType):
    """This package, mirroring each submodule the import system sets on it onto the
    function ``synth`` (what ``impact.synth`` names), so ``import impact.synth.sdid as m``
    finds the module instead of failing on the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if _is_submodule(self.__name__, name, value):
            setattr(synth, name, value)


def _mirror_imported() -> None:
    """Set the submodules imported so far (while this package was loading) on ``synth``."""
    for _full, _module in list(sys.modules.items()):
        _name = _full.removeprefix(f"{__name__}.")
        if (
            _name != _full
            and "." not in _name
            and _is_submodule(__name__, _name, _module)
        ):
            setattr(synth, _name, _module)


_mirror_imported()
sys.modules[__name__].__class__ = _Package
