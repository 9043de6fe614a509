"""Generate mpdta_gaps_pyfixest.csv: TWFE / event study / 2x2 on mpdta with 120 rows
removed (mpdta_gaps_dropped_rows.csv), fitted by pyfixest 0.60.0 on the rows that exist.

Run with a Python that has pyfixest: python generate_mpdta_gaps_pyfixest.py <data dir>
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf

here = Path(__file__).parent
d = pd.read_csv(Path(sys.argv[1]) / "mpdta.csv")
dropped = pd.read_csv(here / "mpdta_gaps_dropped_rows.csv")
key = pd.MultiIndex.from_frame(d[["countyreal", "year"]])
d = d[~key.isin(pd.MultiIndex.from_frame(dropped))].reset_index(drop=True)
g = d["first.treat"]
d["treat"] = ((g > 0) & (d["year"] >= g)).astype(float)
rel = np.where(g > 0, d["year"] - g, np.nan)
names = []
for e in range(-4, 4):
    if e == -1:
        continue
    col = f"e_{'m' if e < 0 else ''}{abs(e)}"
    d[col] = (rel == e).astype(float)
    names.append((col, e))
rows = []
twfe = pf.feols("lemp ~ treat | countyreal + year", data=d, vcov={"CRV1": "countyreal"})
rows.append(
    {
        "model": "twfe",
        "term": "treat",
        "estimate": twfe.coef()["treat"],
        "se": twfe.se()["treat"],
    }
)
es = pf.feols(
    "lemp ~ " + " + ".join(c for c, _ in names) + " | countyreal + year",
    data=d,
    vcov={"CRV1": "countyreal"},
)
for c, e in names:
    rows.append(
        {
            "model": "event_study",
            "term": str(e),
            "estimate": es.coef()[c],
            "se": es.se()[c],
        }
    )
two = d[d["year"].isin([2003, 2004])].copy()
two["treat"] = ((two["first.treat"] == 2004) & (two["year"] == 2004)).astype(float)
fit2 = pf.feols(
    "lemp ~ treat | countyreal + year", data=two, vcov={"CRV1": "countyreal"}
)
rows.append(
    {
        "model": "2x2",
        "term": "treat",
        "estimate": fit2.coef()["treat"],
        "se": fit2.se()["treat"],
    }
)
pd.DataFrame(rows).to_csv(
    here / "mpdta_gaps_pyfixest.csv", index=False, float_format="%.15g"
)
print("pyfixest", pf.__version__)
