"""Reference for the SDID placebo replications: synthdid 0.10.1 (PyPI) on Proposition 99.

Run in a venv of its own (synthdid 0.10.1 needs numpy < 2 and pandas < 2):
    python -m venv venv && venv/bin/pip install synthdid==0.10.1
    venv/bin/python generate_prop99_sdid_placebo.py OUTDIR [DATADIR]

Data: cigsale, California treated from 1989, the 38 other states as controls in the
order of the file (alphabetical), pre-period 1970-1988 (T0 = 19), post 1989-2000.

The original fit is synthdid's: its Frank-Wolfe solver ``sc_weight_fw``, 100
iterations, ``sparsify_function`` (weights at or below a quarter of the largest set to
zero), then up to 10,000 iterations; noise level the SD (ddof 1) of the controls'
first differences over the pre-period; zeta_omega = (N1 T1)^(1/4) x noise,
zeta_lambda = 1e-6 x noise, min_decrease = 1e-5 x noise; intercepts on. The script
checks that this gives the package's own ``sdid()`` estimate.

A placebo replication is R synthdid's ``placebo_se`` (Arkhangelsky et al. 2021,
Algorithm 4; R synthdid 0.0.9 ``vcov.R``): control ``k`` plays the treated unit and the
other 37 are the controls (in file order); zeta and min_decrease are the original fit's
(R passes ``opts``); omega starts from the original omega restricted to the 37 controls
and renormalised (``sum_normalize(weights$omega[ind[1:N0]])``), lambda from the
original lambda; both are re-estimated by the same two-stage Frank-Wolfe. (PyPI
synthdid's own ``placebo_se`` re-runs ``sdid()`` from uniform weights with a fresh
noise level instead, so it is not used.) There is one replication per control, so
the 38 values are the whole placebo distribution with one treated unit.

Output: prop99_sdid_placebo_atoms.csv (pseudo_treated, att), 12 significant digits.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from synthdid.sdid import sdid
from synthdid.solver import sc_weight_fw
from synthdid.utils import collapse_form, sparsify_function, sum_normalize, varianza


def weights(Y, N0, T0, zeta_o, zeta_l, min_dec, omega0=None, lambda0=None):
    """synthdid's two-stage Frank-Wolfe for omega and lambda from given starts."""
    Yc = np.asarray(collapse_form(Y, N0, T0), dtype=float)
    Al, bl = Yc[:N0, :T0], Yc[:N0, T0]
    Ao, bo = Yc.T[:T0, :N0], Yc.T[:T0, N0]
    lam = sc_weight_fw(Al, bl, lambda0, zeta=zeta_l, min_decrease=min_dec, max_iter=100)
    lam = sc_weight_fw(
        Al,
        bl,
        sparsify_function(lam["params"]),
        zeta=zeta_l,
        min_decrease=min_dec,
        max_iter=10000,
    )
    om = sc_weight_fw(Ao, bo, omega0, zeta=zeta_o, min_decrease=min_dec, max_iter=100)
    om = sc_weight_fw(
        Ao,
        bo,
        sparsify_function(om["params"]),
        zeta=zeta_o,
        min_decrease=min_dec,
        max_iter=10000,
    )
    return om["params"], lam["params"]


def att(Y, N0, T0, omega, lam):
    N, T = Y.shape
    o = np.concatenate([-omega, np.full(N - N0, 1 / (N - N0))])
    la = np.concatenate([-lam, np.full(T - T0, 1 / (T - T0))])
    return float(o @ Y @ la)


def main(outdir, datadir):
    df = pd.read_csv(Path(datadir) / "smoking_prop99.csv")
    wide = df.pivot(index="state", columns="year", values="cigsale")
    tr = wide.index == "California"
    Y = np.vstack([wide.to_numpy()[~tr], wide.to_numpy()[tr]])
    N0, T0 = 38, 19
    N1, T1 = 1, Y.shape[1] - T0
    noise = np.sqrt(varianza(np.diff(Y[:N0, :T0], axis=1).ravel()))
    zeta_o = (N1 * T1) ** 0.25 * noise
    zeta_l = 1e-6 * noise
    min_dec = 1e-5 * noise
    omega, lam = weights(Y, N0, T0, zeta_o, zeta_l, min_dec)
    tau = att(Y, N0, T0, omega, lam)
    # the package's own estimate (rounded by it to 5 decimals)
    long = df.assign(
        treated=((df.state == "California") & (df.year >= 1989)).astype(int)
    )
    own = sdid(long, "state", "year", "treated", "cigsale")["att"]
    assert abs(tau - own) < 1e-5, (tau, own)
    rows = []
    for k in range(N0):
        co = np.delete(np.arange(N0), k)
        Yp = np.vstack([Y[co], Y[k]])
        om_k, lam_k = weights(
            Yp,
            N0 - 1,
            T0,
            zeta_o,
            zeta_l,
            min_dec,
            sum_normalize(omega[co]),
            lam.copy(),
        )
        rows.append((wide.index[~tr][k], att(Yp, N0 - 1, T0, om_k, lam_k)))
    out = pd.DataFrame(rows, columns=["pseudo_treated", "att"])
    out.to_csv(
        Path(outdir) / "prop99_sdid_placebo_atoms.csv",
        index=False,
        float_format="%.12g",
    )
    print(
        f"SDID {tau:.6f}; placebo SD (ddof 0) of the 38 atoms {out.att.std(ddof=0):.6f}"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ".")
