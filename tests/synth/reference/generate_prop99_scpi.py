"""Reference for prediction intervals: scpi_pkg 4.0.0 on Proposition 99.

Run in a venv of its own (scpi_pkg 4.0.0 needs pandas < 3):
    python -m venv venv && venv/bin/pip install scpi-pkg==4.0.0 "pandas<3"
    venv/bin/python generate_prop99_scpi.py OUTDIR [DATADIR]

Settings: outcome cigsale only (no covariates), California treated in 1989, the 38 other
states as donors, pre-period 1970-1988, post 1989-2000, constant=False,
cointegrated_data=False, w_constr simplex, V identity ("separate"), u_missp=True,
u_sigma="HC1", u_order=1, u_lags=0, e_method="gaussian", e_order=1, e_lags=0,
u_alpha=e_alpha=0.05, sims=200, rho="type-2" (default), numpy.random.seed(8894)
before scpi (its in-sample draws use numpy's global generator: the standard normal
draws are numpy.random.normal(size=38 * 200).reshape(38, 200) right after the seed).
e_method="all" (the in-sample draws are the same as with "gaussian"), so the
location-scale and quantile-regression bounds come from the same run.

Outputs: prop99_scpi_gaussian.csv (time, synthetic, in_low, in_high, low, high,
e_mean, e_var), prop99_scpi_weights.csv, prop99_scpi_other.csv (time, ls_low,
ls_high, qreg_low, qreg_high) and prop99_scpi_draws.csv (scpi's simulated in-sample
extremes, one row per draw: lb_1989..lb_2000 then ub_1989..ub_2000, as the
min/max of p'(w_hat - w) over the draw's constraint set; captured by wrapping
scpi_pkg.scpi.scpi_in_diag). scpi prints the
synthetic path and bounds to two decimals; the in-sample bounds are simulation
quantiles, so they move with the seed by more than that precision.
"""

import sys

import numpy as np
import pandas as pd
import scpi_pkg.scpi as scpi_module
from scpi_pkg.scdata import scdata
from scpi_pkg.scpi import scpi

captured = {}
_inner = scpi_module.scpi_in_diag


def _capture(*args, **kwargs):
    out = _inner(*args, **kwargs)
    captured["vsig"] = np.asarray(out)
    return out


scpi_module.scpi_in_diag = _capture

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
res = scpi(d, w_constr={"name": "simplex"}, e_method="all", sims=200, cores=1)
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
pd.DataFrame(
    {
        "time": years,
        "ls_low": res.CI_all_ls["Lower"].to_numpy(),
        "ls_high": res.CI_all_ls["Upper"].to_numpy(),
        "qreg_low": res.CI_all_qreg["Lower"].to_numpy(),
        "qreg_high": res.CI_all_qreg["Upper"].to_numpy(),
    }
).to_csv(f"{out}/prop99_scpi_other.csv", index=False, float_format="%.6f")
cols = [f"lb_{y}" for y in years] + [f"ub_{y}" for y in years]
pd.DataFrame(captured["vsig"], columns=cols).to_csv(
    f"{out}/prop99_scpi_draws.csv", index=False, float_format="%.8f"
)
