"""Keep ``import impact.<pkg>.<module> as m`` working where ``impact.<pkg>`` is a function.

``impact.did`` and ``impact.synth`` name the estimator functions, not their subpackages.
``import impact.did.cs as cs`` resolves ``cs`` as an attribute of ``impact.did``, the
function, so each submodule of the subpackage is also set on the function: the ones
already imported when the subpackage finishes loading, and every later one as the
import system sets it on the package.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any


def _is_submodule(package: str, name: str, value: Any) -> bool:
    return isinstance(value, types.ModuleType) and value.__name__ == f"{package}.{name}"


def mirror_submodules(package: str, function: Callable[..., Any]) -> None:
    """Set the submodules of ``package`` on ``function``, now and on later imports.

    Parameters
    ----------
    package : str
        The subpackage's import name, e.g. ``"impact.did"``; call at the end of its
        ``__init__``.
    function : callable
        The function that ``impact.<name>`` refers to.
    """
    prefix = f"{package}."
    for full, module in list(sys.modules.items()):
        name = full.removeprefix(prefix)
        if name != full and "." not in name and _is_submodule(package, name, module):
            setattr(function, name, module)

    class _Package(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            super().__setattr__(name, value)
            if _is_submodule(self.__name__, name, value):
                setattr(function, name, value)

    sys.modules[package].__class__ = _Package
