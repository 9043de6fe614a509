"""Propensity matching and weighting: :func:`match` and :func:`matched_did`.

Greedy nearest-neighbour matching reproduces MatchIt 4.7.2 (order and tie rule),
optimal pair matching uses scipy's assignment solver, weighting covers IPW (ATT, ATC,
ATE) and overlap weights; balance diagnostics follow MatchIt / cobalt.
"""

from impact.matching.api import match, matched_did
from impact.matching.results import MatchedDiDResult, MatchResult

__all__ = ["MatchResult", "MatchedDiDResult", "match", "matched_did"]
