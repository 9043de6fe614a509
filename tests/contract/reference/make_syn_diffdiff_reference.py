"""Generate ``syn_diffdiff.csv``: diff-diff 3.13.0 headline ATTs on the contract panel.

Same input CSV as ``make_syn_csdid_reference.py`` (``contract_cases._small_synthetic()``,
outcome ``cla_rate``). Run in the peers venv::

    /work/peers/bin/python tests/contract/reference/make_syn_diffdiff_reference.py \\
        /tmp/syn.csv tests/contract/reference/syn_diffdiff.csv

``ImputationDiD()`` (Borusyak, Jaravel and Spiess; BJS Theorem 3 conservative variance,
as R didimputation), ``TwoStageDiD()`` (Gardner; GMM variance, as R did2s) and
``WooldridgeDiD(control_group="never_treated")`` (extended TWFE; CRV1 by unit), each
with its defaults otherwise. Output: method, att, se (17 significant digits).
"""

import sys
import warnings

import diff_diff as dd
import pandas as pd

warnings.simplefilter("ignore")
data = pd.read_csv(sys.argv[1])
codes = {c: i + 1 for i, c in enumerate(sorted(data["la_code"].unique()))}
df = data.assign(uid=data["la_code"].map(codes))[["uid", "year", "cla_rate", "cohort"]]
kw = {"outcome": "cla_rate", "unit": "uid", "time": "year"}
fits = {
    "imputation": dd.ImputationDiD().fit(df, first_treat="cohort", **kw),
    "did2s": dd.TwoStageDiD().fit(df, first_treat="cohort", **kw),
    "etwfe": dd.WooldridgeDiD(control_group="never_treated").fit(
        df, cohort="cohort", **kw
    ),
}
rows = [(k, float(r.overall_att), float(r.overall_se)) for k, r in fits.items()]
frame = pd.DataFrame(rows, columns=["method", "att", "se"])
frame.to_csv(sys.argv[2], index=False, float_format="%.17g")
print(frame)
