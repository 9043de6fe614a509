"""Generate the wildboottest cross-check references for tests/inference.

Run from the repository root in a SEPARATE virtual environment (wildboottest is not a
dependency of impact):

    python -m venv /tmp/wbt && /tmp/wbt/bin/pip install wildboottest statsmodels pandas
    /tmp/wbt/bin/python tests/inference/reference/make_wildboottest_reference.py \
        ../shared/data/castle.csv

Writes wildboottest_panels.csv (the synthetic panels) and wildboottest_reference.json
(t statistics, p-values, and for full enumeration every bootstrap t) next to this file.
The model is a plain OLS with unit and period dummies (statsmodels), the restricted
wild cluster bootstrap "11" with the null imposed, testing the coefficient on D = 0.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from wildboottest.wildboottest import WildboottestCL

HERE = Path(__file__).resolve().parent


def make_panel(
    n_units: int, n_periods: int, cohorts: dict[int, int], seed: int
) -> pd.DataFrame:
    """Balanced panel: unit and period effects, AR(1) errors (rho 0.5), no effect."""
    rng = np.random.default_rng(seed)
    e = np.empty((n_units, n_periods))
    e[:, 0] = rng.normal(size=n_units)
    for t in range(1, n_periods):
        e[:, t] = 0.5 * e[:, t - 1] + np.sqrt(1 - 0.25) * rng.normal(size=n_units)
    y = rng.normal(size=(n_units, 1)) + rng.normal(size=(1, n_periods)) + e
    cohort = np.full(n_units, np.inf)
    start = 0
    for first, count in cohorts.items():
        cohort[start : start + count] = first
        start += count
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(n_periods), n_units)
    return pd.DataFrame(
        {"unit": unit, "period": period, "y": y.ravel(), "cohort": cohort[unit]}
    )


def run(
    df: pd.DataFrame,
    unit: str,
    time: str,
    yname: str,
    d: np.ndarray,
    cluster: np.ndarray,
    weights: str,
    B: int,
    seed: int,
) -> dict:
    X = pd.concat(
        [
            pd.Series(1.0, index=df.index, name="const"),
            pd.Series(d.astype(float), index=df.index, name="D"),
            pd.get_dummies(df[unit], prefix="u", drop_first=True, dtype=float),
            pd.get_dummies(df[time], prefix="t", drop_first=True, dtype=float),
        ],
        axis=1,
    )
    R = np.zeros(X.shape[1])
    R[1] = 1.0
    boot = WildboottestCL(
        X=X.values, Y=df[yname].to_numpy(float), cluster=cluster, R=R, B=B, seed=seed
    )
    boot.get_scores(bootstrap_type="11", impose_null=True)
    _, _, full = boot.get_weights(weights_type=weights)
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    boot.get_pvalue(pval_type="two-tailed")
    beta = sm.OLS(df[yname].to_numpy(float), X.values).fit().params[1]
    out = {
        "weights": weights,
        "B": int(boot.B),
        "full_enumeration": bool(full),
        "seed": seed,
        "n_obs": int(X.shape[0]),
        "k": int(X.shape[1]),
        "n_clusters": int(len(np.unique(cluster))),
        "coef": float(beta),
        "t_stat": float(np.ravel(boot.t_stat)[0]),
        "pvalue": float(boot.pvalue),
    }
    if full:
        out["abs_t_boot_sorted"] = sorted(float(abs(x)) for x in np.ravel(boot.t_boot))
    return out


def main(castle_path: str) -> None:
    a = make_panel(10, 8, {5: 3}, seed=20251123)
    a["panel"] = "A"
    b = make_panel(24, 7, {3: 6, 5: 6}, seed=20251124)
    b["panel"] = "B"
    b["cluster"] = b["unit"] // 3  # 8 clusters of 3 units
    a["cluster"] = a["unit"]
    panels = pd.concat([a, b], ignore_index=True)
    panels.to_csv(HERE / "wildboottest_panels.csv", index=False, float_format="%.17g")
    ref: dict = {
        "generator": "tests/inference/reference/make_wildboottest_reference.py",
        "versions": {
            p: version(p) for p in ["wildboottest", "statsmodels", "numpy", "numba"]
        },
        "model": "OLS y ~ const + D + unit dummies + period dummies; WCR '11', impose null",
        "cases": {},
    }
    for name, df in (("A", a), ("B", b)):
        d = (df["period"] >= df["cohort"]).to_numpy()
        cl = df["cluster"].to_numpy()
        ref["cases"][f"{name}_rademacher_full"] = run(
            df, "unit", "period", "y", d, cl, "rademacher", 9999, 1
        )
        ref["cases"][f"{name}_webb"] = run(
            df, "unit", "period", "y", d, cl, "webb", 99999, 2
        )
    castle = pd.read_csv(castle_path)
    d = (castle["year"] >= castle["effyear"]).to_numpy()  # NaN effyear -> False
    for w in ("rademacher", "webb"):
        ref["cases"][f"castle_{w}"] = run(
            castle,
            "sid",
            "year",
            "l_homicide",
            d,
            castle["sid"].to_numpy(),
            w,
            99999,
            3,
        )
    (HERE / "wildboottest_reference.json").write_text(json.dumps(ref, indent=1))
    for k, v in ref["cases"].items():
        print(
            k,
            v["B"],
            v["full_enumeration"],
            round(v["t_stat"], 6),
            round(v["pvalue"], 6),
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/castle.csv")
