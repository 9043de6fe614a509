"""simulate(inference="placebo") warns when too few no-effect draws set the critical value.

The placebo critical value is the ``1 - alpha`` quantile of the no-effect estimates;
with fewer than ``20 / alpha`` draws (400 at 5%) only a handful of draws lie beyond it
and the test size is noisy, so the documented rule is to say so. Thresholds by hand:
100 draws (< 400) warn, 400 do not.
"""

from __future__ import annotations

import numpy as np

from impact.data.synthetic import ar1_panel
from impact.panel import Panel
from impact.power import simulate


def _run(n_sims: int) -> list[str]:
    Y = ar1_panel(60, 10, 0.5, seed=3, unit_sd=1.0, time_sd=1.0) + 50.0
    res = simulate(
        Panel.from_arrays(Y, periods=np.arange(2010, 2020)),
        treatment_time=2016,
        n_treated=3,
        effect=0.0,
        estimator="2x2",
        n_sims=n_sims,
        seed=1,
        inference="placebo",
    )
    return [w for w in res.warnings if "placebo critical value" in w]


def test_few_placebo_draws_warn_and_enough_do_not():
    assert len(_run(100)) == 1
    assert _run(400) == []
