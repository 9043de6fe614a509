"""Generate ``syn_pyfixest.csv``: Sun-Abraham on the contract panel with pyfixest.

Same input CSV as ``make_syn_csdid_reference.py`` (``contract_cases._small_synthetic()``,
outcome ``cla_rate``). Run in the peers venv (pyfixest 0.60.0)::

    /work/peers/bin/python tests/contract/reference/make_syn_pyfixest_reference.py \\
        /tmp/syn.csv tests/contract/reference/syn_pyfixest.csv

Sun and Abraham (2021): OLS of the outcome on one dummy per (cohort g, relative period
e != -1) for the treated, unit and year fixed effects, never-treated authorities as the
comparison (fixest's ``sunab(cohort, year)``), CRV1 clustered by authority with
pyfixest's default small-sample factors. The cell coefficients are aggregated with
fixed cohort-size weights (interaction-weighted estimator): ``simple``: post cells
weighted by cohort size; ``dynamic`` row e: cohorts observed at e weighted by size,
overall the mean of the rows e >= 0; ``group`` row g: mean of its post cells, overall
weighted by cohort size; ``calendar`` row t: post cells with g + e = t weighted by
size, overall the mean of the rows. SEs by the delta method, sqrt(w' V w), V the
clustered covariance. ``pretrend``: Wald statistic of all pre-period (e < 0) cells, key1
= its degrees of freedom. The same regression with one dummy per relative period pooled
over cohorts gives the event study (``es_*`` rows: its coefficients, the mean of the
e >= 0 ones, and the pre-period Wald statistic); ``twfe``: the static TWFE coefficient
on the treatment dummy. Output: kind, key1, att, se (17
significant digits).
"""

import sys

import numpy as np
import pandas as pd
import pyfixest as pf

data = pd.read_csv(sys.argv[1])
out = sys.argv[2]
codes = {c: i + 1 for i, c in enumerate(sorted(data["la_code"].unique()))}
data = data.assign(uid=data["la_code"].map(codes))
years = np.sort(data["year"].unique())
size = data.groupby("cohort")["uid"].nunique()
cells, names = [], []
for g in sorted(c for c in data["cohort"].unique() if c > 0):
    for t in years:
        e = int(t - g)
        if e == -1:
            continue
        name = f"d_{g}_{'m' if e < 0 else 'p'}{abs(e)}"
        data[name] = ((data["cohort"] == g) & (data["year"] == t)).astype(float)
        cells.append((g, e))
        names.append(name)
fit = pf.feols(
    f"cla_rate ~ {' + '.join(names)} | uid + year", data=data, vcov={"CRV1": "uid"}
)
b = fit.coef()[names].to_numpy()
V = fit._vcov
idx = [list(fit.coef().index).index(n) for n in names]
V = V[np.ix_(idx, idx)]
g_arr = np.array([c[0] for c in cells])
e_arr = np.array([c[1] for c in cells])
n_g = np.array([size[g] for g in g_arr], dtype=float)
post = e_arr >= 0


def wvec(sel):
    w = np.where(sel, n_g, 0.0)
    return w / w.sum()


rows = []


def emit(kind, key, w):
    rows.append((kind, key, float(w @ b), float(np.sqrt(w @ V @ w))))


emit("simple", np.nan, wvec(post))
keys = sorted(set(e_arr))
ws = [wvec(e_arr == e) for e in keys]
emit("dynamic", np.nan, np.mean([w for w, e in zip(ws, keys) if e >= 0], axis=0))
for e, w in zip(keys, ws):
    emit("dynamic", e, w)
groups = sorted(set(g_arr))
ws = [
    np.where((g_arr == g) & post, 1.0, 0.0) / ((g_arr == g) & post).sum()
    for g in groups
]
sg = np.array([size[g] for g in groups], dtype=float)
emit("group", np.nan, (sg[:, None] * np.array(ws)).sum(axis=0) / sg.sum())
for g, w in zip(groups, ws):
    emit("group", g, w)
times = sorted(set((g_arr + e_arr)[post]))
ws = [wvec(post & (g_arr + e_arr == t)) for t in times]
emit("calendar", np.nan, np.mean(ws, axis=0))
for t, w in zip(times, ws):
    emit("calendar", t, w)
pre = e_arr < 0
bp, Vp = b[pre], V[np.ix_(pre, pre)]
rows.append(("pretrend", int(pre.sum()), float(bp @ np.linalg.solve(Vp, bp)), np.nan))

# Event study (one dummy per relative period e != -1, pooled over cohorts), same FE and
# clustering; headline and "simple"/"dynamic" overall = mean of the e >= 0 coefficients.
rel = np.where(data["cohort"] > 0, data["year"] - data["cohort"], np.nan)
ev_names, ev_e = [], []
for e in sorted({int(x) for x in rel[~np.isnan(rel)]} - {-1}):
    name = f"ev_{'m' if e < 0 else 'p'}{abs(e)}"
    data[name] = (rel == e).astype(float)
    ev_names.append(name)
    ev_e.append(e)
ev = pf.feols(
    f"cla_rate ~ {' + '.join(ev_names)} | uid + year", data=data, vcov={"CRV1": "uid"}
)
idx = [list(ev.coef().index).index(n) for n in ev_names]
bv, Vv = ev.coef()[ev_names].to_numpy(), ev._vcov[np.ix_(idx, idx)]
ev_e = np.array(ev_e)
w = (ev_e >= 0) / (ev_e >= 0).sum()
rows.append(("es_simple", np.nan, float(w @ bv), float(np.sqrt(w @ Vv @ w))))
for e, bb, ss in zip(ev_e, bv, np.sqrt(np.diag(Vv))):
    rows.append(("es_dynamic", e, float(bb), float(ss)))
pre = ev_e < 0
bp, Vp = bv[pre], Vv[np.ix_(pre, pre)]
rows.append(
    ("es_pretrend", int(pre.sum()), float(bp @ np.linalg.solve(Vp, bp)), np.nan)
)

# Static TWFE: y on D = 1{treated and year >= cohort}, same FE and clustering.
data["D"] = ((data["cohort"] > 0) & (data["year"] >= data["cohort"])).astype(float)
tw = pf.feols("cla_rate ~ D | uid + year", data=data, vcov={"CRV1": "uid"})
rows.append(("twfe", np.nan, float(tw.coef()["D"]), float(tw.se()["D"])))
frame = pd.DataFrame(rows, columns=["kind", "key1", "att", "se"])
frame.to_csv(out, index=False, float_format="%.17g")
print(frame.groupby("kind").size())
