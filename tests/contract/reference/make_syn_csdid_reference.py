"""Generate ``syn_csdid_aggte.csv``: csdid 0.4.3 on the contract tests' synthetic panel.

The panel is ``contract_cases._small_synthetic()`` (the committed Innovation Programme
panel: 20 treated LAs in cohorts 2015/16/18/20 + 30 never treated, 2010-2025), outcome
``cla_rate``. Write it to CSV with impact's environment, then run this script in a
separate venv with the peer installed (it is not a dependency of impact)::

    python -c "import sys; sys.path.insert(0, 'tests/contract'); \\
        from contract_cases import _small_synthetic; \\
        _small_synthetic().to_csv('/tmp/syn.csv', index=False)"
    /work/peers/bin/python tests/contract/reference/make_syn_csdid_reference.py \\
        /tmp/syn.csv tests/contract/reference/syn_csdid_aggte.csv

``att_gt`` defaults as in R did 2.5 (doubly robust, never-treated comparisons, varying
base period, analytic influence-function SEs; csdid 0.4.3 matches R did 2.5 on mpdta to
~1e-15, research/did.md 4.1), then ``aggte`` of each kind without bootstrap.
Output: kind (attgt | simple | group | dynamic | calendar), key1, key2, att, se, at 17
significant digits.
"""

import sys

import numpy as np
import pandas as pd
from csdid.att_gt import ATTgt

data = pd.read_csv(sys.argv[1])
out = sys.argv[2]
codes = {c: i + 1 for i, c in enumerate(sorted(data["la_code"].unique()))}
data = data.assign(uid=data["la_code"].map(codes))[
    ["uid", "year", "cla_rate", "cohort"]
]
att = ATTgt(yname="cla_rate", gname="cohort", idname="uid", tname="year", data=data)
att.fit(est_method="dr", bstrap=False)
r = att.results
rows = [
    ("attgt", g, t, a, s)
    for g, t, a, s in zip(r["group"], r["year"], r["att"], r["se"])
]
for kind in ("simple", "group", "dynamic", "calendar"):
    agg = att.aggte(typec=kind, bstrap=False)
    res = agg.atte if hasattr(agg, "atte") else att.atte
    rows.append((kind, np.nan, np.nan, res["overall_att"], res["overall_se"]))
    if kind != "simple":
        for key, a, s in zip(res["egt"], res["att_egt"], res["se_egt"]):
            rows.append((kind, key, np.nan, a, s))
frame = pd.DataFrame(rows, columns=["kind", "key1", "key2", "att", "se"])
frame.to_csv(out, index=False, float_format="%.17g")
print(frame.groupby("kind").size())
