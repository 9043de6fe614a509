"""End to end: impact.did event study -> result.sensitivity() on ehec (HonestDiD README).

The event-study coefficients come from our TWFE event study (themselves checked against
pyfixest in test_did_twfe_reference.py); the intervals from impact.did.honest. Reference:
HonestDiD README (repo asheshrambachan/HonestDiD), printed to 3 significant digits:
smoothness (FLCI) to 1e-4, relative magnitudes (C-LF, a grid-based test inversion in
HonestDiD) to 1e-3, as research/did.md 3d recommends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def ehec_event_study(reference_data):
    ehec = pd.read_csv(reference_data / "ehec.csv")
    s = ehec[(ehec["year"] < 2016) & (ehec["yexp2"] != 2015)]
    s = s.assign(g=np.where(s["yexp2"] == 2014, 2014.0, np.nan))
    return impact.did(
        s,
        outcome="dins",
        unit="stfips",
        time="year",
        cohort="g",
        method="event_study",
        inference="analytic",
    )


def test_smoothness_matches_honestdid_readme(ehec_event_study):
    readme = {
        0.0: (0.0259, 0.0607),
        0.01: (0.0132, 0.0787),
        0.02: (0.00286, 0.0907),
        0.03: (-0.00714, 0.101),
        0.04: (-0.0171, 0.111),
        0.05: (-0.0271, 0.121),
    }
    res = ehec_event_study.sensitivity("smoothness", M=list(readme))
    tab = res.table[res.table["method"] != "Original"].set_index("M")
    for m, (lo, hi) in readme.items():
        assert tab.loc[m, "ci_low"] == pytest.approx(lo, abs=1e-4)
        assert tab.loc[m, "ci_high"] == pytest.approx(
            hi, abs=1e-3 if hi > 0.1 else 1e-4
        )


def test_relative_magnitude_matches_honestdid_readme(ehec_event_study):
    readme = {
        0.5: (0.0241, 0.0673),
        1.0: (0.0171, 0.0720),
        1.5: (0.00859, 0.0796),
        2.0: (-0.00107, 0.0883),
    }
    res = ehec_event_study.sensitivity("relative_magnitude", Mbar=list(readme))
    tab = res.table[res.table["method"] != "Original"].set_index("Mbar")
    for mbar, (lo, hi) in readme.items():
        assert tab.loc[mbar, "ci_low"] == pytest.approx(lo, abs=1e-3)
        assert tab.loc[mbar, "ci_high"] == pytest.approx(hi, abs=1e-3)
