"""Notebook 3: synthetic control for one authority."""

from _nb_common import SETUP

NAME = "03_synthetic_control"

CELLS = [
    (
        "md",
        """
        # 3. Synthetic control for one authority

        When a single authority adopts an innovation, a difference in differences against
        "all other authorities" is rarely convincing: no average of 130 authorities looks
        like *this* one. A **synthetic control** (Abadie, Diamond and Hainmueller 2010)
        builds a weighted combination of comparison authorities (the *donors*) whose
        rates tracked the adopter's closely before adoption, and reads the effect as the
        gap afterwards.

        This notebook uses the committed synthetic panel
        `data/synthetic/innovation_panel.csv` (150 synthetic authorities; 20 adopt in
        2015-2020; the true effect is a 5% cut in the rate, phased in over three years).
        We follow one authority of the 2020 wave, which has ten pre-adoption years.
        Because the panel is simulated, its `true_effect` column tells us what a perfect
        method would find.

        Steps: choose the donor pool, fit, check the weights and the pre-period fit, plot
        the trajectory and gap, run placebo and conformal inference, then compare with
        augmented synthetic control and synthetic difference in differences.
        """,
    ),
    ("code", SETUP),
    (
        "code",
        """
        # Parameters
        QUICK = os.environ.get("IMPACT_QUICK", "0") == "1"
        N_DONORS = 40  # donor pool: never-adopters closest in pre-period level
        SEED = 3
        """,
    ),
    (
        "code",
        """
        from impact.data import load_synthetic

        df = load_synthetic("innovation_panel.csv")
        TREATED = sorted(df.loc[df["cohort"] == 2020, "la_code"].unique())[0]
        START = 2020
        pre_mean = df[df["year"] < START].groupby("la_code")["cla_rate"].mean()
        never = df.loc[df["cohort"] == 0, "la_code"].unique()
        distance = (pre_mean[never] - pre_mean[TREATED]).abs().sort_values()
        donors = list(distance.index[:N_DONORS])
        data = df[df["la_code"].isin(donors + [TREATED])]
        truth = df.loc[(df["la_code"] == TREATED) & (df["year"] >= START), "true_effect"]
        print(f"Treated authority {TREATED}, adopts in {START}; "
              f"{len(donors)} donors (never adopt), pre-period mean rate "
              f"{pre_mean[TREATED]:.1f} per 10,000")
        print(f"True average effect 2020-2025: {truth.mean():.2f} per 10,000")
        """,
    ),
    (
        "md",
        """
        **The donor pool is a design choice.** Only authorities that never adopted can
        be donors, and we keep the 40 closest to the adopter in their pre-period average
        rate. A pool of similar authorities limits interpolation between very different
        places (Abadie 2021). With many donors and few pre-period years, a synthetic
        control can match the past *perfectly* by chance (overfitting), which says
        nothing about the future.

        ## Fit

        By default every pre-period outcome is a predictor (outcome-path matching).
        Covariates can be added with `predictors=` and `special_predictors=`; the
        predictor weights V are then chosen by the nested optimisation of Abadie et al.
        """,
    ),
    (
        "code",
        """
        kw = dict(outcome="cla_rate", unit="la_code", time="year",
                  treated_units=TREATED, treatment_time=START)
        sc = impact.synth(data, method="abadie", inference="placebo", seed=SEED, **kw)
        print(sc.summary())
        """,
    ),
    (
        "code",
        """
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        sc.plot(kind="weights", ax=axes[0])
        sc.plot(kind="trajectory", ax=axes[1])
        axes[1].set_ylabel("Children looked after per 10,000 children")
        axes[1].set_xlabel("Year ending 31 March")
        axes[1].set_title(f"{TREATED} and its synthetic control")
        fig.tight_layout()
        """,
    ),
    (
        "md",
        """
        Read three things before any effect:

        * **Weights**: a handful of donors carry the synthetic control. Check they are
          plausible comparators (region, size, deprivation) and not one outlier.
        * **Pre-period fit**: the pre-period RMSPE (root mean squared gap) should be small
          relative to the year-to-year movement of the rate. The balance table compares
          the adopter with its synthetic control and with the donor average:
        """,
    ),
    (
        "code",
        """
        sc.balance.round(1)
        """,
    ),
    (
        "md",
        """
        * **The gap**: treated minus synthetic, year by year. The true effect from the
          simulation is overlaid.
        """,
    ),
    (
        "code",
        """
        ax = sc.plot(kind="gap")
        ax.plot(truth.index.map(lambda i: df.loc[i, "year"]), truth.to_numpy(), "k--",
                label="true effect (simulation)")
        ax.set_ylabel("Gap: treated minus synthetic (CLA per 10,000)")
        ax.set_xlabel("Year ending 31 March")
        ax.legend(frameon=False, fontsize="small");
        """,
    ),
    (
        "md",
        """
        ## Inference 1: placebos in space

        With one treated authority there is no standard error in the usual sense. The
        placebo test refits the synthetic control for every donor as if *it* had adopted
        in 2020, and ranks the adopter's post/pre ratio of RMSPE among them. With 40
        donors the smallest possible p-value is 1/41 = 0.024.
        """,
    ),
    (
        "code",
        """
        test = sc.placebo()
        print(f"Placebo (RMSPE-ratio rank) p-value: {test.pvalue:.3f} "
              f"({len(test.table)} units)")
        ax = test.plot()
        ax.set_ylabel("Gap: unit minus its synthetic (CLA per 10,000)")
        ax.set_xlabel("Year ending 31 March");
        """,
    ),
    (
        "md",
        """
        ## Inference 2: conformal intervals

        Chernozhukov, Wuthrich and Zhu (2021) invert a permutation test over *time*:
        for a hypothesised effect, are the post-period residuals unusual among all the
        residuals? It gives an interval per year and for a constant effect. The
        attainable p-values are multiples of 1/(pre-periods + 1): with ten pre-period
        years no 95% interval can be finite, so we ask for 90% intervals.
        """,
    ),
    (
        "code",
        """
        conf = impact.synth(data, method="abadie", inference="conformal", alpha=0.10,
                            seed=SEED, **kw)
        print(f"Constant-effect 90% conformal interval: "
              f"({conf.ci[0]:.1f}, {conf.ci[1]:.1f}) per 10,000")
        table = conf.conformal.assign(true_effect=truth.to_numpy())
        table.round(2)
        """,
    ),
    (
        "md",
        """
        ## Augmented synthetic control and synthetic DiD

        * **Augmented SCM** (Ben-Michael, Feller and Rothstein 2021) corrects the
          remaining pre-period imbalance with a ridge outcome model: useful when the fit
          is imperfect.
        * **Synthetic DiD** (Arkhangelsky et al. 2021) combines unit weights with time
          weights and allows a constant level difference, like DiD.
        """,
    ),
    (
        "code",
        """
        fits = {"Abadie SCM": sc}
        for label, method in [("Augmented SCM", "augmented"), ("Synthetic DiD", "sdid")]:
            fits[label] = impact.synth(data, method=method, inference="placebo",
                                       seed=SEED, **kw)
        compare = pd.DataFrame(
            {
                name: {"estimate": r.estimate, "std. error": r.se,
                       "placebo p-value": r.pvalue, "pre-period RMSPE": r.pre_rmspe}
                for name, r in fits.items()
            }
        ).T
        compare["true effect"] = truth.mean()
        compare.round(3)
        """,
    ),
    (
        "code",
        """
        fig, ax = plt.subplots()
        names = list(compare.index)
        ypos = np.arange(len(names))
        ax.errorbar(compare["estimate"], ypos, xerr=1.96 * compare["std. error"],
                    fmt="o", capsize=4, label="estimate +/- 1.96 x placebo SE")
        ax.axvline(truth.mean(), color="k", ls="--", lw=1, label="true effect")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(ypos, names)
        ax.set_xlabel("Average effect 2020-2025 (CLA per 10,000 children)")
        ax.set_title(f"Synthetic-control estimates for {TREATED}")
        ax.legend(frameon=False, fontsize="small");
        """,
    ),
    (
        "md",
        """
        ## Robustness: leave one donor out, and a placebo in time

        If the result hinges on one donor, dropping it changes the synthetic path. A
        placebo in time moves the adoption date back into the pre-period (here to 2016,
        using data up to 2019 only): a credible fit shows no gap there.
        """,
    ),
    (
        "code",
        """
        ax = sc.plot(kind="loo")
        ax.set_title(f"{TREATED}: synthetic control refitted without each donor")
        ax.set_ylabel("Children looked after per 10,000 children")
        ax.set_xlabel("Year ending 31 March")
        early = sc.placebo_in_time(2016)
        print(f"Placebo in time (fake start 2016): average gap 2016-2019 = "
              f"{early.estimate:.2f} per 10,000")
        """,
    ),
    (
        "md",
        """
        ## What to conclude, and what not to

        * The three estimators agree on the direction and size (a fall of 6-7 per
          10,000), but only the Abadie fit reaches a placebo p-value below 0.05, and
          barely. All three overstate the true effect (-3 per 10,000 here) and their
          uncertainty is wide: one authority's rate moves by several points a year for
          reasons unrelated to any programme, and the placebo gaps of the donors spread
          as widely after 2020 as the adopter's.
        * This adopter, like all adopters in this panel, was chosen partly *because* its
          rate was high and rising (the regression-to-the-mean trap of notebook 2), and
          the placebo in time shows a spurious gap before adoption. A synthetic control
          that matches the level does not remove selection on the trajectory.
        * Report the weights, the pre-period fit and the placebo distribution alongside
          any estimate; with one treated authority the p-value cannot be below
          1/(donors + 1), and conformal intervals need enough pre-period years.
        * Do not shop among the three methods for the most significant one: decide the
          method and donor pool before looking at post-period data (notebook 6 shows how
          to write the plan down as a study file).
        """,
    ),
]
