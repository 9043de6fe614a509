"""Exceptions and warnings raised by :mod:`impact`.

Every failure a user can cause raises a subclass of :class:`ImpactError`, which is a
:class:`ValueError`, so existing ``except ValueError`` clauses keep working.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "EstimationError",
    "ImpactError",
    "ImpactWarning",
    "SpecError",
]


class ImpactError(ValueError):
    """Base class of every error a user of :mod:`impact` can cause."""


class DataError(ImpactError):
    """The data are unusable as given: missing columns, duplicated rows, bad values."""


class SpecError(ImpactError):
    """An option, argument or study-file entry is invalid."""


class EstimationError(ImpactError):
    """An estimator could not produce a trustworthy answer (singular design, no convergence)."""


class ImpactWarning(UserWarning):
    """A diagnostic the user should see: dropped units, few treated clusters, poor fit."""
