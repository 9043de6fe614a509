"""Synthetic control methods: Abadie SCM, augmented SCM, synthetic DiD, placebo inference."""

from impact.synth.weights import simplex_weights

__all__ = ["simplex_weights"]
