"""Generate ``mpdta_csdid_cov.csv``: csdid 0.4.3 on mpdta with ``xformla="~lpop"``.

Run in a separate venv with the peer installed (it is not a dependency of impact)::

    python -m venv /tmp/peers && /tmp/peers/bin/pip install csdid==0.4.3
    /tmp/peers/bin/python tests/did/reference/make_csdid_reference.py ../shared/data/mpdta.csv

csdid 0.4.3 reproduces R did 2.5 on mpdta to ~1e-15 for every scenario R was run on
(research/did.md 4.1), so these rows extend the R reference to the doubly robust and
IPW estimators with a covariate and to not-yet-treated comparisons with a covariate.
Output: scenario, kind (attgt | simple | group | dynamic | calendar), key1, key2, att, se
written with 17 significant digits.
"""

import sys

import numpy as np
import pandas as pd
from csdid.att_gt import ATTgt

path = sys.argv[1] if len(sys.argv) > 1 else "mpdta.csv"
out = sys.argv[2] if len(sys.argv) > 2 else "mpdta_csdid_cov.csv"
data = pd.read_csv(path)
rows = []
scenarios = {
    "nev_dr_lpop": ("dr", "nevertreated"),
    "nev_ipw_lpop": ("ipw", "nevertreated"),
    "nyt_dr_lpop": ("dr", "notyettreated"),
    "nyt_reg_lpop": ("reg", "notyettreated"),
}
for name, (est, control) in scenarios.items():
    att = ATTgt(
        yname="lemp",
        gname="first.treat",
        idname="countyreal",
        tname="year",
        xformla="lemp ~ lpop",
        data=data.copy(),
        control_group=control,
    )
    att.fit(est_method=est, bstrap=False)
    r = att.results
    for g, t, a, s in zip(r["group"], r["year"], r["att"], r["se"]):
        rows.append((name, "attgt", g, t, a, s))
    for kind in ("simple", "group", "dynamic", "calendar"):
        agg = att.aggte(typec=kind, bstrap=False)
        res = agg.atte if hasattr(agg, "atte") else att.atte
        rows.append((name, kind, np.nan, np.nan, res["overall_att"], res["overall_se"]))
        if kind != "simple":
            for key, a, s in zip(res["egt"], res["att_egt"], res["se_egt"]):
                rows.append((name, kind, key, np.nan, a, s))
frame = pd.DataFrame(rows, columns=["scenario", "kind", "key1", "key2", "att", "se"])
frame.to_csv(out, index=False, float_format="%.17g")
print(frame.groupby(["scenario", "kind"]).size())
