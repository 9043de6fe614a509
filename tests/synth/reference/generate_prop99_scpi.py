"""Reference for prediction intervals: scpi_pkg 4.0.0 on Proposition 99 (not yet used).

Run in a venv of its own (scpi_pkg 4.0.0 needs pandas < 3):
    python -m venv venv && venv/bin/pip install scpi-pkg==4.0.0 "pandas<3"
    venv/bin/python generate_prop99_scpi.py OUTDIR [DATADIR]

Settings: outcome cigsale only (no covariates), California treated in 1989, the 38 other
states as donors, pre-period 1970-1988, post 1989-2000, constant=False,
cointegrated_data=False, w_constr simplex, V identity ("separate"), u_missp=True,
u_sigma="HC1", u_order=1, u_lags=0, e_method="gaussian", e_order=1, e_lags=0,
u_alpha=e_alpha=0.05, sims=200, rho="type-2" (default), numpy.random.seed(8894)
before scpi (its in-sample draws use numpy's global generator). scpi prints the
synthetic path and bounds to two decimals; the in-sample bounds are simulation
quantiles, so they move with the seed by more than that precision.
"""

import sys

import numpy as np
import pandas as pd
from scpi_pkg.scdata import scdata
from scpi_pkg.scpi import scpi

out = sys.argv[1]
data = sys.argv[2] if len(sys.argv) > 2 else "/work/shared/data"
df = pd.read_csv(f"{data}/smoking_prop99.csv")[["state", "year", "cigsale"]]
donors = sorted(s for s in df["state"].unique() if s != "California")
d = scdata(
    df=df,
    id_var="state",
    time_var="year",
    outcome_var="cigsale",
    period_pre=np.arange(1970, 1989),
    period_post=np.arange(1989, 2001),
    unit_tr="California",
    unit_co=donors,
    constant=False,
    cointegrated_data=False,
)
np.random.seed(8894)
res = scpi(d, w_constr={"name": "simplex"}, e_method="gaussian", sims=200, cores=1)
years = np.arange(1989, 2001)
table = pd.DataFrame(
    {
        "time": years,
        "synthetic": res.Y_post_fit.to_numpy().ravel(),
        "in_low": res.CI_in_sample["Lower"].to_numpy(),
        "in_high": res.CI_in_sample["Upper"].to_numpy(),
        "low": res.CI_all_gaussian["Lower"].to_numpy(),
        "high": res.CI_all_gaussian["Upper"].to_numpy(),
        "e_mean": np.asarray(res.e_mean).ravel(),
        "e_var": np.asarray(res.e_var).ravel(),
    }
)
table.to_csv(f"{out}/prop99_scpi_gaussian.csv", index=False, float_format="%.6f")
w = res.w.reset_index()
w.columns = ["unit", "donor", "weight"]
w[["donor", "weight"]].to_csv(f"{out}/prop99_scpi_weights.csv", index=False)
