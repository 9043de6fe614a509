"""Synthetic control methods: Abadie SCM, augmented SCM, synthetic DiD, placebo inference.

The public entry point is :func:`impact.synth` (this package's :func:`synth`).
``impact.synth`` at the top level is that function; this subpackage stays importable
by module path (``impact.synth.api``, ``impact.synth.sdid``), also as
``import impact.synth.sdid as sdid``: Python resolves that through the attribute
``impact.synth``, the function, so every submodule imported is also set on the function.
"""

from __future__ import annotations

from impact._submodule_alias import mirror_submodules
from impact.synth.api import synth
from impact.synth.results import PlaceboTest, SynthResult
from impact.synth.weights import simplex_weights

__all__ = ["PlaceboTest", "SynthResult", "simplex_weights", "synth"]


mirror_submodules(__name__, synth)
