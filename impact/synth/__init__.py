"""Synthetic control methods: Abadie SCM, augmented SCM, synthetic DiD, placebo inference.

The public entry point is :func:`impact.synth` (this package's :func:`synth`).
"""

from impact.synth.api import synth
from impact.synth.results import PlaceboTest, SynthResult
from impact.synth.weights import simplex_weights

__all__ = ["PlaceboTest", "SynthResult", "simplex_weights", "synth"]
