"""Synthetic difference-in-differences, with synthetic control and DiD as special cases.

Implements Arkhangelsky, Athey, Hirshberg, Imbens and Wager (2021, AER 111(12)),
"Synthetic Difference-in-Differences", Algorithm 1 (estimate) and Algorithms 2-4
(bootstrap, jackknife and placebo standard errors), for a block design: ``N1`` treated
units adopt at the same period, after ``T0`` pre-periods.

Unit weights ``omega`` solve a ridge-penalised simplex least-squares problem that matches
the treated units' average pre-period path up to an intercept; time weights ``lambda``
match each control's post-period mean from its pre-period values, again up to an
intercept. Both are computed with the Frank-Wolfe algorithm with exact line search, the
regularisation ``zeta_omega = (N1 T1)^(1/4) sigma`` (sigma = standard deviation of the
controls' pre-period first differences), ``zeta_lambda = 1e-6 sigma``, a stopping rule on
the decrease of the penalised loss, and the two-round "sparsify" step (weights below a
quarter of the largest are zeroed after the first 100 iterations), as in the authors'
reference implementation (R package synthdid 0.0.9). The outcome-only synthetic control
(no intercept, no time weights, negligible ridge) and plain DiD (uniform weights) use the
same machinery, so the paper's Table 1 can be reproduced.

The solver is vectorised over replications: a placebo or bootstrap run solves all its
weight problems together, so 200 replications cost roughly as much Python overhead as
one fit.

The implementation is split by job: weights and point estimates in
:mod:`impact.synth.sdid_weights`, standard errors in :mod:`impact.synth.sdid_inference`,
staggered adoption in :mod:`impact.synth.sdid_cohorts`. This module gathers their public
names (and the helpers the tests use), so imports from ``impact.synth.sdid`` keep
working.
"""

from __future__ import annotations

from impact.synth.sdid_cohorts import (
    StaggeredSDIDFit,
    sdid_staggered,
    sdid_staggered_se,
)
from impact.synth.sdid_inference import (
    _bootstrap_draws,
    _jackknife_draws,
    _placebo_draws,
    sdid_se,
)
from impact.synth.sdid_weights import (
    SDIDFit,
    _estimate_batch,
    did_estimate,
    sc_estimate,
    sdid_estimate,
    sdid_estimate_many,
)

__all__ = [
    "SDIDFit",
    "StaggeredSDIDFit",
    "_bootstrap_draws",
    "_estimate_batch",
    "_jackknife_draws",
    "_placebo_draws",
    "did_estimate",
    "sc_estimate",
    "sdid_estimate",
    "sdid_estimate_many",
    "sdid_se",
    "sdid_staggered",
    "sdid_staggered_se",
]
