"""SDID placebo replications (Algorithm 4) against synthdid on Proposition 99.

Reference: ``reference/prop99_sdid_placebo_atoms.csv``, made by
``reference/generate_prop99_sdid_placebo.py`` with synthdid 0.10.1 (PyPI): R synthdid
0.0.9's ``placebo_se`` recipe (the original fit's zeta and stopping rule, omega started
from the original omega restricted to the remaining controls and renormalised, lambda
from the original lambda) run with synthdid's own Frank-Wolfe solver, once for each of
the 38 controls as the pseudo-treated unit. Printed to 12 significant digits; ours
agree to 5e-11, tolerance 1e-8. Starting omega from uniform weights instead (a fresh
fit) moves the replications by up to 0.05, starting lambda from uniform by 5e-4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.synth.sdid import _placebo_draws, sdid_estimate

REFERENCE = Path(__file__).parent / "reference" / "prop99_sdid_placebo_atoms.csv"


@pytest.mark.reference
def test_placebo_replications_match_synthdid(reference_data):
    wide = pd.read_csv(reference_data / "smoking_prop99.csv").pivot(
        index="state", columns="year", values="cigsale"
    )
    Y, treated, T0 = wide.to_numpy(), np.asarray(wide.index == "California"), 19
    controls = wide.index[~treated]
    ref = pd.read_csv(REFERENCE)
    assert list(ref["pseudo_treated"]) == list(controls)
    fit = sdid_estimate(Y, treated, T0)
    n0 = controls.size
    # row k: control k is the pseudo-treated unit (last), the others keep file order
    perms = np.array([np.r_[np.delete(np.arange(n0), k), k] for k in range(n0)])
    atoms = _placebo_draws(Y, fit, perms)
    np.testing.assert_allclose(atoms, ref["att"].to_numpy(), rtol=0, atol=1e-8)
