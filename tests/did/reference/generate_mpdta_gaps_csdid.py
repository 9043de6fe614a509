"""Generate tests/did/reference/mpdta_gaps_* with csdid 0.4.3 (allow_unbalanced_panel=True)."""

import sys

import csdid
import numpy as np
import pandas as pd
from csdid.att_gt import ATTgt

out = sys.argv[1]
d = pd.read_csv("/work/shared/data/mpdta.csv")
rng = np.random.default_rng(16)
drop = np.sort(rng.choice(len(d), size=120, replace=False))
d.iloc[drop][["countyreal", "year"]].to_csv(
    f"{out}/mpdta_gaps_dropped_rows.csv", index=False
)
d2 = d.drop(index=d.index[drop]).reset_index(drop=True)
attrows, aggrows = [], []
for cg, name in [("nevertreated", "never"), ("notyettreated", "notyet")]:
    a = ATTgt(
        yname="lemp",
        gname="first.treat",
        idname="countyreal",
        tname="year",
        data=d2,
        control_group=cg,
        panel=True,
        allow_unbalanced_panel=True,
    ).fit(est_method="reg", bstrap=False)
    res = a.results
    for g_, t_, att_, se_ in zip(res["group"], res["year"], res["att"], res["se"]):
        attrows.append(
            {
                "control": name,
                "group": int(g_),
                "t": int(t_),
                "att": float(att_),
                "se": float(se_),
            }
        )
    for t in ["simple", "group", "dynamic", "calendar"]:
        a.aggte(typec=t, bstrap=False)
        at = a.atte
        aggrows.append(
            {
                "control": name,
                "type": t,
                "egt": "overall",
                "att": at["overall_att"],
                "se": at["overall_se"],
            }
        )
        if t != "simple":
            for e, v, se in zip(at["egt"], at["att_egt"], np.ravel(at["se_egt"])):
                aggrows.append(
                    {"control": name, "type": t, "egt": str(int(e)), "att": v, "se": se}
                )
pd.DataFrame(attrows).to_csv(
    f"{out}/mpdta_gaps_csdid_attgt.csv", index=False, float_format="%.15g"
)
pd.DataFrame(aggrows).to_csv(
    f"{out}/mpdta_gaps_csdid_aggte.csv", index=False, float_format="%.15g"
)
print("csdid", csdid.__version__ if hasattr(csdid, "__version__") else "0.4.3")
