"""Side-by-side timings of impact against peer packages: one table of time ratios.

Usage (from the repository root)::

    python benchmarks/run.py [--quick] [--full] [--peers-venv .bench-venv]
                             [--no-install] [--repeats 3] [--threads 1]
                             [--only cs,twfe,modern,synth,special,sdid,matching,power]

Every row is the same task on the same data for impact and one peer: the median of
``--repeats`` wall-clock runs after one warm-up call (a warm-up longer than 5 s leaves
a single timed run; peers that take minutes get one run, no warm-up). The ratio is
peer seconds / impact seconds (> 1: impact is faster). BLAS/OpenMP are
single-threaded on both sides unless ``--threads`` says otherwise; impact's placebo
runs use its two joblib workers where the row says ``n_jobs=2``.

Peers (csdid, differences, diff-diff, pyfixest, pysyncon, synthdid, causalml, psmpy)
are not dependencies of impact. They live in a separate virtual environment that this
script creates or reuses (``--peers-venv``, default ``.bench-venv`` at the repository
root; ``pip install`` of ``benchmarks/requirements-peers.txt``, one package at a time),
and are timed there through a subprocess that runs this same file with
``--peer-task``. A peer that cannot install or run shows as "n/a (reason)".

``--quick``: smoke mode (one repeat, 2k x 20k matching, 5 looped power draws, 50
synthdid placebo replications scaled x4, no pysyncon, no Abadie placebo run).
``--full``: also pysyncon's Powell fit and causalml without replacement at 10k x 100k
(each a minute or more). psmpy always runs at 2k x 20k: it builds dense n1 x n0 arrays.
The first run installs the peers (several minutes). See benchmarks/README.md.
This is a script, never a timed test.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _timing as tm  # noqa: E402

SCRIPT = Path(__file__).resolve()
ADH_PUBLISHED = {  # Abadie, Diamond and Hainmueller (2010), Table 2
    "Colorado": 0.164,
    "Connecticut": 0.069,
    "Montana": 0.199,
    "Nevada": 0.234,
    "Utah": 0.334,
}
ADH_SPECIALS = [
    ("beer", list(range(1984, 1989)), "mean"),
    ("cigsale", [1988], "mean"),
    ("cigsale", [1980], "mean"),
    ("cigsale", [1975], "mean"),
]
CLA_SPECIALS = [  # a typical user specification on the CLA rate, treated in 2020
    ("rate", list(range(2010, 2020)), "mean"),
    ("rate", [2016], "mean"),
    ("rate", [2017], "mean"),
    ("rate", [2018], "mean"),
    ("rate", [2019], "mean"),
]
CS_KINDS = ("simple", "group", "dynamic", "calendar")
POWER_T0, POWER_TREATED, POWER_EFFECT = 2020, 10, 3.0


def _weights_error(weights: dict[str, float]) -> float:
    keys = set(weights) | set(ADH_PUBLISHED)
    return max(abs(weights.get(k, 0.0) - ADH_PUBLISHED.get(k, 0.0)) for k in keys)


# =========================================================================== peers
# Everything below runs in the peers' interpreter (no impact there). Each function
# takes (data_dir, repeats, opts) and returns {peer: {"seconds", "value", "note"}}.


def _peer_guard(name: str, func: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return func()
    except Exception as exc:  # noqa: BLE001 - a peer's failure is a result here
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:90]
        return {"na": msg}


def _version(dist: str) -> str:
    from importlib.metadata import version

    return f"{dist} {version(dist)}"


def peer_cs(data_dir: Path, repeats: int, opts: dict[str, Any]) -> dict[str, Any]:
    """Callaway-Sant'Anna, never-treated controls, analytic SEs, four aggregations."""
    import pandas as pd

    df = pd.read_csv(data_dir / "panel.csv")
    out: dict[str, Any] = {}

    def csdid() -> dict[str, Any]:
        from csdid.att_gt import ATTgt

        def run() -> float:
            att = ATTgt(yname="y", gname="g", idname="id", tname="t", data=df.copy())
            att.fit(est_method="reg", bstrap=False)
            val = float("nan")
            for kind in CS_KINDS:
                agg = att.aggte(typec=kind, bstrap=False)
                if kind == "simple":  # aggte returns the same object each time
                    val = float(agg.atte["overall_att"])
            return val

        sec, val = tm.median_time(run, repeats)
        return {"seconds": sec, "value": val, "version": _version("csdid")}

    def diff_diff() -> dict[str, Any]:
        from diff_diff import CallawaySantAnna

        def run() -> float:
            cs = CallawaySantAnna(control_group="never_treated", n_bootstrap=0)
            res = cs.fit(
                df, outcome="y", unit="id", time="t", first_treat="g", aggregate="all"
            )
            return float(res.overall_att)

        sec, val = tm.median_time(run, repeats)
        return {"seconds": sec, "value": val, "version": _version("diff-diff")}

    def differences() -> dict[str, Any]:
        from differences import ATTgt

        d = df.assign(g2=df["g"].where(df["g"] > 0)).set_index(["id", "t"])

        def run() -> float:
            att = ATTgt(data=d, cohort_column="g2")
            att.fit(formula="y", est_method="reg", control_group="never_treated")
            val = float("nan")
            for kind in ("simple", "cohort", "event", "time"):
                agg = att.aggregate(kind)
                if kind == "simple":
                    val = float(agg.iloc[0, 0])
            return val

        sec, val = tm.median_time(run, repeats)
        return {"seconds": sec, "value": val, "version": _version("differences")}

    out["csdid"] = _peer_guard("csdid", csdid)
    out["differences"] = _peer_guard("differences", differences)
    out["diff-diff"] = _peer_guard("diff-diff", diff_diff)
    out["pyfixest"] = {"na": "no Callaway-Sant'Anna estimator"}
    return out


def peer_twfe(data_dir: Path, repeats: int, opts: dict[str, Any]) -> dict[str, Any]:
    """pyfixest feols: static TWFE and a fully dynamic event study, CRV1 by unit."""
    import pandas as pd

    df = pd.read_csv(data_dir / "panel.csv")
    df["d"] = ((df["g"] > 0) & (df["t"] >= df["g"])).astype(float)
    # never treated: relative time set to the reference period -1
    df["rel"] = (df["t"] - df["g"]).where(df["g"] > 0, -1).astype(int)

    def static() -> dict[str, Any]:
        import pyfixest as pf

        def run() -> float:
            fit = pf.feols("y ~ d | id + t", data=df, vcov={"CRV1": "id"})
            return float(fit.coef()["d"])

        sec, val = tm.median_time(run, repeats)
        return {"seconds": sec, "value": val, "version": _version("pyfixest")}

    def dynamic() -> dict[str, Any]:
        import pyfixest as pf

        def run() -> float:
            fit = pf.feols("y ~ i(rel, ref=-1) | id + t", data=df, vcov={"CRV1": "id"})
            coef = fit.coef()
            post = [
                v
                for k, v in coef.items()
                if int(str(k).split("::")[-1].rstrip("]").split(".")[0]) >= 0
            ]
            return float(sum(post) / len(post))

        sec, val = tm.median_time(run, repeats)
        return {"seconds": sec, "value": val, "version": _version("pyfixest")}

    return {
        "pyfixest (static)": _peer_guard("pyfixest", static),
        "pyfixest (event study)": _peer_guard("pyfixest", dynamic),
    }


def _pysyncon_dataprep(df: Any, controls: list[str]) -> Any:
    from pysyncon import Dataprep

    return Dataprep(
        foo=df,
        predictors=["lnincome", "age15to24", "retprice"],
        predictors_op="mean",
        time_predictors_prior=range(1980, 1989),
        special_predictors=[(c, p, op) for c, p, op in ADH_SPECIALS],
        dependent="cigsale",
        unit_variable="state",
        time_variable="year",
        treatment_identifier="California",
        controls_identifier=controls,
        time_optimize_ssr=range(1970, 1989),
    )


def peer_synth(data_dir: Path, repeats: int, opts: dict[str, Any]) -> dict[str, Any]:
    """pysyncon nested-V fit on Prop 99 (Nelder-Mead default; Powell with --full)."""
    import pandas as pd

    df = pd.read_csv(data_dir / "smoking_prop99.csv")
    controls = sorted(set(df["state"]) - {"California"})
    out: dict[str, Any] = {}

    def fit(method: str | None) -> dict[str, Any]:
        from pysyncon import Synth

        dp = _pysyncon_dataprep(df, controls)

        def run() -> float:
            s = Synth()
            if method is None:
                s.fit(dataprep=dp)
            else:
                s.fit(dataprep=dp, optim_method=method)
            w = s.weights(round=6)
            return _weights_error({str(k): float(v) for k, v in w.items()})

        sec, cpu, err = tm.timed(run)  # minutes per fit: one run, no warm-up
        return {
            "seconds": sec,
            "cpu_seconds": cpu,
            "value": err,
            "note": f"max |w - ADH Table 2| = {err:.3f}",
            "version": _version("pysyncon"),
        }

    out["pysyncon (Nelder-Mead)"] = _peer_guard("pysyncon", lambda: fit(None))
    if opts.get("full"):
        out["pysyncon (Powell)"] = _peer_guard("pysyncon", lambda: fit("Powell"))
    else:
        out["pysyncon (Powell)"] = {"na": "~5 min per fit; run with --full"}
    return out


def peer_sdid(data_dir: Path, repeats: int, opts: dict[str, Any]) -> dict[str, Any]:
    """synthdid (PyPI) on Prop 99: point estimate, and placebo SE (200 reps)."""
    import pandas as pd

    df = pd.read_csv(data_dir / "smoking_prop99.csv")[["state", "year", "cigsale"]]
    df["treated"] = ((df["state"] == "California") & (df["year"] >= 1989)).astype(int)

    def make() -> Any:
        from synthdid.synthdid import Synthdid

        return Synthdid(df, "state", "year", "treated", "cigsale")

    def point() -> dict[str, Any]:
        def run() -> float:
            return float(make().fit().att)

        sec, val = tm.median_time(run, repeats)
        return {"seconds": sec, "value": val, "version": _version("synthdid")}

    def placebo() -> dict[str, Any]:
        import numpy as np
        from synthdid.vcov import placebo_se

        # Synthdid.vcov() ignores its n_reps (hard-coded 50): call the function it
        # wraps, with impact's 200 replications (50 in --quick, scaled x4)
        reps = 50 if opts.get("quick") else 200

        def run() -> float:
            np.random.seed(12345)
            model = make().fit()
            return float(placebo_se(model.data_ref, n_reps=reps))

        sec, val = tm.median_time(run, 1, warmup=0)
        return {
            "seconds": sec * 200 / reps,
            "value": val,
            "note": f"SE {val:.2f}" + ("" if reps == 200 else " (50 reps, time x4)"),
            "version": _version("synthdid"),
        }

    return {
        "synthdid (estimate)": _peer_guard("synthdid", point),
        "synthdid (placebo SE)": _peer_guard("synthdid", placebo),
    }


def peer_matching(data_dir: Path, repeats: int, opts: dict[str, Any]) -> dict[str, Any]:
    """causalml and psmpy 1:1 nearest neighbour on the propensity score."""
    import pandas as pd

    df = pd.read_csv(data_dir / "matching.csv")
    out: dict[str, Any] = {}

    def causalml(replace: bool) -> dict[str, Any]:
        from causalml.match import NearestNeighborMatch

        m = NearestNeighborMatch(caliper=0.2, replace=replace, ratio=1, random_state=1)

        def run() -> float:
            return float(
                len(m.match(data=df, treatment_col="treat", score_cols=["ps"]))
            )

        sec, val = tm.median_time(run, repeats, warmup=int(replace))
        return {
            "seconds": sec,
            "value": val,
            "note": f"{int(val)} matched rows",
            "version": _version("causalml"),
        }

    def psmpy() -> dict[str, Any]:
        from psmpy import PsmPy

        small = pd.read_csv(data_dir / "matching_small.csv")

        def run() -> float:
            psm = PsmPy(small[["id", "treat", "x"]], treatment="treat", indx="id")
            psm.logistic_ps(balance=False)
            psm.kdtree_matched(
                matcher="propensity_score", replacement=True, caliper=None
            )
            return float(len(psm.df_matched))

        sec, val = tm.median_time(run, 1, warmup=0)
        return {
            "seconds": sec,
            "value": val,
            "note": "its own logit; no caliper; n1 x n0 dense kNN query",
            "version": _version("psmpy"),
        }

    out["causalml (replace)"] = _peer_guard("causalml", lambda: causalml(True))
    if opts.get("full") or not opts.get("large", False):
        out["causalml (no replace)"] = _peer_guard("causalml", lambda: causalml(False))
    else:
        out["causalml (no replace)"] = {"na": "~100 s at 10k x 100k; run with --full"}
    out["psmpy (logit + kdtree, replace)"] = _peer_guard("psmpy", psmpy)
    return out


def peer_power(data_dir: Path, repeats: int, opts: dict[str, Any]) -> dict[str, Any]:
    """Loop a peer estimator over k placebo draws; extrapolate to 1,000 draws."""
    import numpy as np
    import pandas as pd

    df = pd.read_csv(data_dir / "power.csv")
    draws = np.load(data_dir / "draws.npy")
    k = int(opts.get("k", 20))
    units = np.sort(df["id"].unique())

    def frame(i: int) -> pd.DataFrame:
        treated = np.isin(df["id"].to_numpy(), units[draws[i]])
        post = df["t"].to_numpy() >= POWER_T0
        return df.assign(
            y=df["y"] + POWER_EFFECT * (treated & post),
            d=(treated & post).astype(float),
            g=np.where(treated, POWER_T0, 0),
        )

    def loop(fit_one: Callable[[pd.DataFrame], float], version: str) -> dict[str, Any]:
        frames = [frame(i) for i in range(k)]
        fit_one(frames[0])  # warm-up (imports, JIT)
        t0 = time.perf_counter()
        for f in frames:
            fit_one(f)
        per = (time.perf_counter() - t0) / k
        return {
            "seconds": per * 1000,
            "value": per,
            "note": f"{k} draws timed, x1000/{k}",
            "version": version,
        }

    def pyfixest() -> dict[str, Any]:
        import pyfixest as pf

        def one(f: pd.DataFrame) -> float:
            fit = pf.feols("y ~ d | id + t", data=f, vcov={"CRV1": "id"})
            return float(fit.pvalue()["d"])

        return loop(one, _version("pyfixest"))

    def diff_diff() -> dict[str, Any]:
        from diff_diff import CallawaySantAnna

        def one(f: pd.DataFrame) -> float:
            cs = CallawaySantAnna(control_group="never_treated", n_bootstrap=0)
            res = cs.fit(f, outcome="y", unit="id", time="t", first_treat="g")
            return float(res.overall_att)

        return loop(one, _version("diff-diff"))

    return {
        "twfe: pyfixest feols loop": _peer_guard("pyfixest", pyfixest),
        "cs: diff-diff loop": _peer_guard("diff-diff", diff_diff),
    }


MODERN_TASKS = (
    ("imputation", "imputation (BJS)"),
    ("did2s", "two-stage (Gardner)"),
    ("etwfe", "ETWFE linear, not-yet"),
    ("poisson", "ETWFE Poisson, not-yet"),
    ("stacked", "stacked, window (1, 1)"),
    ("dcdh", "dCDH DID_M"),
)


def peer_modern(data_dir: Path, repeats: int, opts: dict[str, Any]) -> dict[str, Any]:
    """diff-diff 3.13: the issue-17 estimators, analytic SEs, overall ATT."""
    import warnings

    import numpy as np
    import pandas as pd

    warnings.simplefilter("ignore")
    df = pd.read_csv(data_dir / "panel.csv")
    df["g"] = df["g"].fillna(0)
    import diff_diff as dd

    def fits() -> dict[str, Callable[[], float]]:
        kw = {"outcome": "y", "unit": "id", "time": "t"}
        return {
            "imputation": lambda: dd.ImputationDiD().fit(df, first_treat="g", **kw),
            "did2s": lambda: dd.TwoStageDiD().fit(df, first_treat="g", **kw),
            "etwfe": lambda: dd.WooldridgeDiD(control_group="not_yet_treated").fit(
                df, cohort="g", **kw
            ),
            "poisson": lambda: dd.WooldridgeDiD(
                method="poisson", control_group="not_yet_treated"
            ).fit(df, outcome="c", unit="id", time="t", cohort="g"),
            "stacked": lambda: dd.StackedDiD(
                kappa_pre=1, kappa_post=1, control_group="not_yet_treated"
            ).fit(df.assign(g=df["g"].replace(0, np.inf)), first_treat="g", **kw),
            "dcdh": lambda: dd.ChaisemartinDHaultfoeuille(twfe_diagnostic=False).fit(
                df, outcome="y", group="id", time="t", treatment="d"
            ),
        }

    out: dict[str, Any] = {}
    for name, fit in fits().items():

        def one(fit: Callable[[], Any] = fit) -> dict[str, Any]:
            sec, res = tm.median_time(fit, repeats)
            return {
                "seconds": sec,
                "value": float(res.overall_att),
                "version": _version("diff-diff"),
            }

        out[name] = _peer_guard(name, one)
    return out


PEER_TASKS: dict[str, Callable[[Path, int, dict[str, Any]], dict[str, Any]]] = {
    "cs": peer_cs,
    "twfe": peer_twfe,
    "synth": peer_synth,
    "sdid": peer_sdid,
    "matching": peer_matching,
    "power": peer_power,
    "modern": peer_modern,
}


def _peer_main(args: argparse.Namespace) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    import contextlib

    opts = json.loads(args.opts or "{}")
    with contextlib.redirect_stdout(sys.stderr):  # peers print summaries
        out = PEER_TASKS[args.peer_task](Path(args.data_dir), args.repeats, opts)
    print(json.dumps(out, default=float))


# ========================================================================== impact


def _impact_cs(df: Any, repeats: int) -> tuple[float, float]:
    import impact

    def run() -> float:
        res = impact.did(
            df, outcome="y", unit="id", time="t", cohort="g", inference="analytic"
        )
        for kind in CS_KINDS:
            res.aggregate(kind)
        return float(res.estimate)

    return tm.median_time(run, repeats)


def _impact_twfe(df: Any, repeats: int, method: str) -> tuple[float, float]:
    import impact

    def run() -> float:
        res = impact.did(
            df,
            outcome="y",
            unit="id",
            time="t",
            cohort="g",
            method=method,
            inference="analytic",
        )
        return float(res.estimate)

    return tm.median_time(run, repeats)


def _impact_modern(df: Any, repeats: int, task: str) -> tuple[float, float]:
    import impact

    kw: dict[str, Any] = {"unit": "id", "time": "t", "inference": "analytic"}
    if task == "poisson":
        kw.update(outcome="c", cohort="g", method="etwfe", family="poisson")
        kw["control"] = "notyet"
    elif task == "dcdh":
        kw.update(outcome="y", treated="d", method="dcdh")
    else:
        kw.update(outcome="y", cohort="g", method=task)
        if task in ("etwfe", "stacked"):
            kw["control"] = "notyet"
        if task == "stacked":
            kw["window"] = (1, 1)

    def run() -> float:
        return float(impact.did(df, **kw).estimate)

    return tm.median_time(run, repeats)


def _cla_panel() -> tuple[Any, Any]:
    """The real CLA panel: authorities observed every year 2010-2025, one treated.

    Rates per 10,000 children (harmonised authorities; City of London and the Isles of
    Scilly dropped as too small); the treated authority is the 11th by id.
    """
    import pandas as pd

    raw = pd.read_csv(tm.DATA / "cla_la_panel_2010_2025.csv")
    raw = raw[~raw["la_name"].isin(["City of London", "Isles of Scilly"])]
    agg = raw.groupby(["harmonised_id", "year"], as_index=False)[
        "cla_rate_per_10000"
    ].mean()
    wide = agg.pivot(index="harmonised_id", columns="year", values="cla_rate_per_10000")
    keep = wide.dropna().index
    df = agg[agg["harmonised_id"].isin(keep)].rename(
        columns={"harmonised_id": "la", "cla_rate_per_10000": "rate"}
    )
    return df.reset_index(drop=True), sorted(keep)[10]


def _adh_kwargs() -> dict[str, Any]:
    return {
        "outcome": "cigsale",
        "unit": "state",
        "time": "year",
        "treated_units": "California",
        "treatment_time": 1989,
        "predictors": ["lnincome", "age15to24", "retprice"],
        "predictor_period": list(range(1980, 1989)),
        "special_predictors": ADH_SPECIALS,
        "optimize_period": list(range(1970, 1989)),
    }


class Bench:
    """Collects rows: impact's timing of a task, then one row per peer."""

    def __init__(
        self, args: argparse.Namespace, pys: dict[str, Path | None], tmp: Path
    ) -> None:
        self.args, self.pys, self.tmp = args, pys, tmp
        self.rows: list[dict[str, Any]] = []
        self.targets: list[dict[str, Any]] = []
        self.versions: dict[str, str] = {}

    def target(self, name: str, ours: float, base: float, limit: float) -> None:
        """Record a target ``ours / base <= limit`` (both measured in this run)."""
        self.targets.append(
            {"target": name, "ours": ours, "base": base, "limit": limit}
        )

    def peers(
        self,
        task: str,
        data_dir: Path,
        opts: dict[str, Any],
        timeout: float,
        venv: str = "",
    ) -> dict[str, Any]:
        opts = {**opts, "full": self.args.full, "quick": self.args.quick}
        print(f"[run] peers: {task} ...", file=sys.stderr, flush=True)
        return tm.run_peer(
            self.pys.get(venv),
            SCRIPT,
            task,
            data_dir,
            repeats=self.args.repeats,
            timeout=timeout,
            extra=["--opts", json.dumps(opts)],
        )

    def add(
        self,
        task: str,
        ours: float | str,
        peers: dict[str, Any],
        names: list[str],
        note: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        first = True
        for name in names:
            res = peers.get(name, peers.get("_all", {"na": "not run"}))
            if "version" in res:
                self.versions[res["version"]] = ""
            row: dict[str, Any] = {
                "task": task if first else "",
                "impact": ours if first else "",
                "peer": name,
            }
            if "na" in res:
                row["note"] = f"n/a ({res['na']})"
            else:
                row["peer_s"] = float(res["seconds"])
                row["impact_s"] = ours if isinstance(ours, float) else None
                row["note"] = note(res) if note else res.get("note", "")
            self.rows.append(row)
            first = False
        if not names:
            self.rows.append({"task": task, "impact": ours, "peer": "-", "note": ""})


def _agree(ours: float) -> Callable[[dict[str, Any]], str]:
    def note(res: dict[str, Any]) -> str:
        val = res.get("value")
        if isinstance(val, float) and val == val:
            return f"estimate {val:.4f} vs ours {ours:.4f}"
        return str(res.get("note", ""))

    return note


def run_all(args: argparse.Namespace) -> Bench:
    """Time every task; returns the collected rows."""
    import numpy as np

    tmp = Path(tempfile.mkdtemp(prefix="impact-bench-"))
    pys: dict[str, Path | None] = {}
    venv_msg = "peers skipped (--no-peers)"
    if not args.no_peers:
        pys, venv_msg = tm.ensure_peers_venv(
            Path(args.peers_venv), install=not args.no_install
        )
    print(f"[run] {venv_msg}", file=sys.stderr, flush=True)
    b = Bench(args, pys, tmp)
    b.versions["_venv"] = venv_msg
    only = set(args.only.split(",")) if args.only else None
    r = args.repeats
    slow_timeout = 3600.0 if args.full else 900.0

    def want(name: str) -> bool:
        return only is None or name in only

    def section(name: str, func: Callable[[], None]) -> None:
        if not want(name):
            return
        try:
            func()
        except Exception as exc:  # noqa: BLE001 - keep the other tasks going
            traceback.print_exc()
            b.rows.append(
                {"task": name, "impact": "error", "note": f"{type(exc).__name__}"}
            )

    panels = {
        "mpdta 500x5": tm.mpdta(),
        "synthetic 3000x20": tm.synthetic_panel(3000, 20),
    }

    def cs() -> None:
        for label, df in panels.items():
            d = tmp / f"cs-{label.split()[1]}"
            d.mkdir(exist_ok=True)
            df.to_csv(d / "panel.csv", index=False)
            print(f"[run] impact: CS {label}", file=sys.stderr, flush=True)
            ours, est = _impact_cs(df, r)
            peers = b.peers("cs", d, {}, slow_timeout)
            b.add(
                f"CS + 4 aggregations, {label}",
                ours,
                peers,
                ["csdid", "differences", "diff-diff", "pyfixest"],
                _agree(est),
            )

    def twfe() -> None:
        for label, df in panels.items():
            d = tmp / f"cs-{label.split()[1]}"
            d.mkdir(exist_ok=True)
            df.to_csv(d / "panel.csv", index=False)
            print(f"[run] impact: TWFE {label}", file=sys.stderr, flush=True)
            ours_s, est_s = _impact_twfe(df, r, "twfe")
            ours_d, est_d = _impact_twfe(df, r, "event_study")
            peers = b.peers("twfe", d, {}, slow_timeout)
            b.add(
                f"TWFE static, CRV1, {label}",
                ours_s,
                peers,
                ["pyfixest (static)"],
                _agree(est_s),
            )
            b.add(
                f"event study, CRV1, {label}",
                ours_d,
                peers,
                ["pyfixest (event study)"],
                _agree(est_d),
            )

    def synth() -> None:
        import impact

        df = __import__("pandas").read_csv(tm.DATA / "smoking_prop99.csv")
        print("[run] impact: Abadie nested V on Prop 99", file=sys.stderr, flush=True)
        ours, res = tm.median_time(
            lambda: impact.synth(df, inference=None, **_adh_kwargs()), r
        )
        err = _weights_error({str(k): float(v) for k, v in res.weights.items()})
        if args.quick:
            peers: dict[str, Any] = {"_all": {"na": "pysyncon skipped in --quick"}}
        else:
            peers = b.peers("synth", tm.DATA, {}, slow_timeout)
        b.add(
            f"Abadie nested-V fit, Prop 99 (ours max|w-ADH|={err:.3f})",
            ours,
            peers,
            ["pysyncon (Nelder-Mead)", "pysyncon (Powell)"],
        )
        nm = peers.get("pysyncon (Nelder-Mead)", {})
        est: dict[str, Any] = {"na": "needs the pysyncon fit timing"}
        if "seconds" in nm:
            est = {
                "seconds": 38 * float(nm["seconds"]) / 2,
                "note": "extrapolated: 38 x its fit / 2 workers",
            }
        label = "Abadie placebo run, 38 donors"
        if args.quick:
            b.rows.append({"task": label, "impact": "skipped", "note": "--quick"})
            return
        print("[run] impact: placebo run, 38 donors", file=sys.stderr, flush=True)
        # issue 18 target: the whole placebo run (one worker, CPU seconds) within a
        # quarter of the CPU time of ONE default pysyncon fit, timed in the same run
        wall_1, cpu_1, test = tm.timed(lambda: res.placebo(n_jobs=1))
        # a fresh fit: the result caches its placebo test
        fresh = impact.synth(df, inference=None, **_adh_kwargs())
        wall_2, _, _ = tm.timed(lambda: fresh.placebo(n_jobs=2))
        one: dict[str, Any] = {"na": "needs the pysyncon fit timing"}
        if "cpu_seconds" in nm:
            peer_cpu = float(nm["cpu_seconds"])
            b.target(
                "placebo run (38 donors, n_jobs=1) / one pysyncon NM fit, CPU s",
                cpu_1,
                peer_cpu,
                0.25,
            )
            one = {
                "seconds": peer_cpu,
                "note": f"CPU s both sides: ours / one pysyncon fit = "
                f"{cpu_1 / peer_cpu:.2f} (target <= 0.25)",
            }
        b.add(
            f"{label}, n_jobs=1, CPU s (p={test.pvalue:.3f})",
            cpu_1,
            {"pysyncon one fit (NM), CPU s": one},
            ["pysyncon one fit (NM), CPU s"],
        )
        b.add(
            f"{label}, n_jobs=2, wall s (n_jobs=1: {wall_1:.1f} s)",
            wall_2,
            {"pysyncon PlaceboTest (NM)": est},
            ["pysyncon PlaceboTest (NM)"],
        )

    def special() -> None:
        # issue 18: nested V over special_predictors at most 100x the time of the same
        # call without them (outcome-path matching), placebo run included; one worker,
        # so the CPU time of this process is the whole cost
        import impact

        df, treated = _cla_panel()
        kw = {
            "outcome": "rate",
            "unit": "la",
            "time": "year",
            "treated_units": treated,
            "treatment_time": 2020,
            "n_jobs": 1,
        }
        n = df["la"].nunique()
        print(
            "[run] impact: CLA panel with/without special_predictors", file=sys.stderr
        )
        cpu = time.process_time
        plain, res0 = tm.median_time(lambda: impact.synth(df, **kw), r, clock=cpu)
        with_sp, res1 = tm.median_time(
            lambda: impact.synth(df, special_predictors=CLA_SPECIALS, **kw),
            r,
            clock=cpu,
        )
        ratio = with_sp / plain
        b.target(
            f"special_predictors with / without, CLA {n}x16 + placebos, CPU s",
            with_sp,
            plain,
            100.0,
        )
        b.add(
            f"nested V on special_predictors, CLA {n}x16, + {n - 1} placebos, CPU s",
            with_sp,
            {
                "impact, no special_predictors": {
                    "seconds": plain,
                    "note": f"ours with / without = {ratio:.0f}x (target <= 100x); "
                    f"pre-RMSPE {res1.pre_rmspe:.3f} vs {res0.pre_rmspe:.3f}",
                }
            },
            ["impact, no special_predictors"],
        )

    def sdid() -> None:
        import impact

        df = __import__("pandas").read_csv(tm.DATA / "smoking_prop99.csv")
        kw = {
            "outcome": "cigsale",
            "unit": "state",
            "time": "year",
            "treated_units": "California",
            "treatment_time": 1989,
            "method": "sdid",
        }
        print("[run] impact: SDID on Prop 99", file=sys.stderr, flush=True)
        ours, res = tm.median_time(lambda: impact.synth(df, inference=None, **kw), r)
        ours_se, res_se = tm.median_time(
            lambda: impact.synth(df, inference="placebo", seed=1, **kw), r
        )
        peers = b.peers("sdid", tm.DATA, {}, slow_timeout, venv="synthdid")
        b.add(
            "SDID estimate, Prop 99",
            ours,
            peers,
            ["synthdid (estimate)"],
            _agree(float(res.estimate)),
        )
        b.add(
            "SDID + placebo SE (200 reps), Prop 99",
            ours_se,
            peers,
            ["synthdid (placebo SE)"],
            lambda p: f"{p.get('note', '')} vs ours {res_se.se:.2f}",
        )

    def matching() -> None:
        from impact.matching import match

        n1, n0 = (2_000, 20_000) if args.quick else (10_000, 100_000)
        df = tm.matching_data(n1, n0)
        small = tm.matching_data(2_000, 20_000)
        d = tmp / "matching"
        d.mkdir(exist_ok=True)
        df.to_csv(d / "matching.csv", index=False)
        # psmpy queries every control for every treated unit (dense n1 x n0 arrays,
        # 2 x 8 GB at 10k x 100k): it is timed on 2k x 20k only
        small.to_csv(d / "matching_small.csv", index=False)
        kw: dict[str, Any] = {"treatment": "treat", "covariates": ["x"], "outcome": "y"}
        label = f"{n1 // 1000}k x {n0 // 1000}k"
        print(f"[run] impact: matching {label}", file=sys.stderr, flush=True)
        ours_r, _ = tm.median_time(
            lambda: match(df, distance="ps", caliper=0.2, replace=True, **kw), r
        )
        ours_n, _ = tm.median_time(
            lambda: match(df, distance="ps", caliper=0.2, replace=False, **kw), r
        )
        ours_l, _ = tm.median_time(
            lambda: match(small, caliper=0.2, replace=True, **kw), r
        )
        peers = b.peers("matching", d, {"large": not args.quick}, slow_timeout)
        b.add(
            f"PS match 1:1, caliper 0.2 SD, replace, {label}",
            ours_r,
            peers,
            ["causalml (replace)"],
        )
        b.add(
            f"PS match 1:1, caliper 0.2 SD, no replace, {label}",
            ours_n,
            peers,
            ["causalml (no replace)"],
        )
        b.add(
            "logit PS + match, replace, 2k x 20k",
            ours_l,
            peers,
            ["psmpy (logit + kdtree, replace)"],
        )

    def power() -> None:
        from impact.panel import Panel
        from impact.power import simulate

        df = tm.power_panel()
        d = tmp / "power"
        d.mkdir(exist_ok=True)
        df.to_csv(d / "power.csv", index=False)
        np.save(d / "draws.npy", tm.placebo_draws(150, POWER_TREATED, 200))
        panel = Panel(df, unit="id", time="t", outcome="y")
        peers_k = 5 if args.quick else 40
        peers = b.peers("power", d, {"k": peers_k}, slow_timeout)
        for est, peer in (
            ("twfe", "twfe: pyfixest feols loop"),
            ("cs", "cs: diff-diff loop"),
        ):
            print(f"[run] impact: power {est} 1,000 draws", file=sys.stderr, flush=True)
            ours, _ = tm.median_time(
                functools.partial(
                    simulate,
                    panel,
                    treatment_time=POWER_T0,
                    n_treated=POWER_TREATED,
                    effect=0.05,
                    estimator=est,
                    n_sims=1000,
                    seed=1,
                ),
                r,
            )
            b.add(f"power, 1,000 placebo draws, {est}, 150x16", ours, peers, [peer])

    def modern() -> None:
        rng = np.random.default_rng(17)
        for label, df in panels.items():
            d = tmp / f"modern-{label.split()[1]}"
            d.mkdir(exist_ok=True)
            df = df.copy()
            g = df["g"].to_numpy()
            df["d"] = ((g > 0) & (df["t"].to_numpy() >= g)).astype(int)
            df["c"] = rng.poisson(np.exp(2.0 + 0.3 * df["y"].to_numpy().clip(-5, 5)))
            df.to_csv(d / "panel.csv", index=False)
            peers = b.peers("modern", d, {}, slow_timeout)
            for task, name in MODERN_TASKS:
                print(f"[run] impact: {name} {label}", file=sys.stderr, flush=True)
                ours, est = _impact_modern(df, r, task)
                b.add(
                    f"{name}, {label}",
                    ours,
                    {"diff-diff": peers.get(task, {"na": "not run"})},
                    ["diff-diff"],
                    _agree(est),
                )

    section("cs", cs)
    section("twfe", twfe)
    section("modern", modern)
    section("synth", synth)
    section("special", special)
    section("sdid", sdid)
    section("matching", matching)
    section("power", power)
    return b


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; run the peer side or the whole benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fast smoke mode")
    p.add_argument("--full", action="store_true", help="include the slow peer runs")
    p.add_argument("--peers-venv", default=str(tm.REPO / ".bench-venv"))
    p.add_argument("--no-install", action="store_true", help="reuse the venv as is")
    p.add_argument("--no-peers", action="store_true", help="time impact only")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (both sides)")
    p.add_argument("--only", default=None, help="comma list of task groups")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    p.add_argument("--peer-task", default=None, help=argparse.SUPPRESS)
    p.add_argument("--data-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--opts", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.peer_task:
        _peer_main(args)
        return 0
    tm.set_blas_threads(args.threads)
    t0 = time.perf_counter()
    b = run_all(args)
    shutil.rmtree(b.tmp, ignore_errors=True)  # peers' CSV inputs, not results
    import impact

    print(f"\nimpact {impact.__version__} benchmarks, {time.strftime('%Y-%m-%d')}")
    print(tm.machine())
    mode = "quick" if args.quick else ("full" if args.full else "default")
    print(
        f"mode {mode}; median of {args.repeats} run(s) after a warm-up "
        "(warm-up over 5 s: one timed run); ratio = peer / impact (> 1: impact faster)"
    )
    peers = ", ".join(sorted(k for k in b.versions if k[0] != "_"))
    print(f"peers: {peers or 'none'}\n")
    rows = b.rows
    print(tm.format_table(rows))
    if b.targets:
        print("\ntargets (ratio = ours / base, both measured in this run):")
        for t in b.targets:
            ratio = t["ours"] / t["base"] if t["base"] > 0 else float("inf")
            verdict = "PASS" if ratio <= t["limit"] else "FAIL"
            print(
                f"  {t['target']}: {t['ours']:.2f} / {t['base']:.2f} = "
                f"{ratio:.3g} (target <= {t['limit']:g}) {verdict}"
            )
    print(f"\ntotal wall time {time.perf_counter() - t0:.0f} s")
    if args.json:
        out = {"rows": rows, "targets": b.targets}
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
