"""Power and minimum detectable effects: analytic formulas, simulation, verdicts.

Analytic (return floats; exactly one of the starred arguments is None and is solved
for): :func:`two_sample`, :func:`cluster_design`, :func:`design_effect`,
:func:`mckenzie_mde`, :func:`panel_did_mde` (Burlig-Preonas-Woerman, AR(1) or pilot
panel). Simulation on a real or synthetic panel: :func:`simulate` ->
:class:`PowerResult`; subgroup count noise: :func:`subgroup_mde`. Design verdict of a
fitted result: :func:`assess` (also ``result.design()``).
"""

from __future__ import annotations

from impact.power.analytic import (
    ar1_covariances,
    cluster_design,
    design_effect,
    mckenzie_mde,
    panel_did_mde,
    pilot_covariance,
    two_sample,
)
from impact.power.assess import DesignAssessment, assess
from impact.power.results import PowerResult
from impact.power.simulation import simulate
from impact.power.subgroup import plot_subgroup_mde, subgroup_mde
from impact.results import register_design_assessor

register_design_assessor(assess)

__all__ = [
    "DesignAssessment",
    "PowerResult",
    "ar1_covariances",
    "assess",
    "cluster_design",
    "design_effect",
    "mckenzie_mde",
    "panel_did_mde",
    "pilot_covariance",
    "plot_subgroup_mde",
    "simulate",
    "subgroup_mde",
    "two_sample",
]
