"""Notebook 4: matching authorities."""

from _nb_common import SETUP

NAME = "04_matching"

CELLS = [
    (
        "md",
        """
        # 4. Matching authorities

        Evaluators are often asked to compare adopters with "similar authorities".
        Matching makes that explicit: for each adopter, pick the comparison
        authorities closest to it on characteristics measured **before** adoption, check
        that the groups are balanced, then compare outcomes.

        We use the synthetic Innovation-Programme panel again
        (`data/synthetic/innovation_panel.csv`: 20 adopters in 2015-2020, selected on
        high and rising rates; true effect a 5% cut phased in over three years), so we
        can check the answers. Covered here:

        1. Propensity-score and Mahalanobis matching on a cross-section of pre-programme
           characteristics, balance tables and the love plot.
        2. **Matched DiD**: match adopters to comparison authorities on their
           pre-period *level and trend*, then run a difference in differences on the
           matched panel.
        """,
    ),
    ("code", SETUP),
    (
        "code",
        """
        # Parameters
        QUICK = os.environ.get("IMPACT_QUICK", "0") == "1"
        N_BOOT = 199 if QUICK else 999
        SEED = 4
        """,
    ),
    (
        "code",
        """
        from impact.data import load_synthetic

        df = load_synthetic("innovation_panel.csv")
        rate = df.pivot(index="la_code", columns="year", values="cla_rate")
        info = df[df["year"] == 2014].set_index("la_code")
        areas = pd.DataFrame({
            "rate_2014": rate[2014],
            "growth_2011_2014": np.log(rate[2014] / rate[2011]),
            "deprivation": info["deprivation"],
            "log_child_pop": np.log(info["child_pop"]),
            "adopter": (info["cohort"] > 0).astype(int),
            "change_2014_2024": rate[2024] - rate[2014],
        }).reset_index()
        truth = df.loc[df["treated"] == 1, "true_effect"].mean()
        truth_2024 = df.loc[(df["treated"] == 1) & (df["year"] == 2024),
                            "true_effect"].mean()
        print(f"{areas['adopter'].sum()} adopters, {(areas['adopter'] == 0).sum()} "
              "never adopt")
        print(f"True effect on adopters in 2024: {truth_2024:.2f} per 10,000; "
              f"averaged over all post-adoption years: {truth:.2f}")
        areas.groupby("adopter")[["rate_2014", "growth_2011_2014", "deprivation",
                                  "log_child_pop"]].mean().round(3)
        """,
    ),
    (
        "md",
        """
        Every characteristic is measured in 2014 or earlier, before the first adoption
        (2015); matching on anything the programme could have changed would bias the
        comparison. Adopters had higher and faster-rising rates and more deprivation:
        a raw comparison of the outcome (the change in rate 2014-2024) would mix the
        programme with those differences.

        ## Propensity-score matching

        A logistic model predicts adoption from the four characteristics; each adopter
        is paired with the never-adopter of closest score (nearest neighbour, without
        replacement). The estimand is the effect on the adopters (ATT).
        """,
    ),
    (
        "code",
        """
        covariates = ["rate_2014", "growth_2011_2014", "deprivation", "log_child_pop"]
        ps = impact.match(areas, treatment="adopter", covariates=covariates,
                          outcome="change_2014_2024", method="nearest",
                          distance="logit", seed=SEED)
        print(ps.summary())
        """,
    ),
    (
        "code",
        """
        cols = ["covariate", "smd_before", "smd_after", "var_ratio_before",
                "var_ratio_after", "balanced_after"]
        ps.balance()[cols].round(3)
        """,
    ),
    (
        "md",
        """
        The balance table shows standardised mean differences (SMD: difference in means
        in pooled-SD units) and variance ratios before and after matching. A common rule
        is |SMD| < 0.1 after matching. The love plot shows the same at a glance:
        """,
    ),
    (
        "code",
        """
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        ps.plot(kind="love", ax=axes[0])
        ps.plot(kind="overlap", ax=axes[1])
        fig.tight_layout()
        """,
    ),
    (
        "md",
        """
        The overlap plot checks common support: adopters with propensity scores that no
        comparison authority reaches cannot be matched well.

        ## Mahalanobis matching, a caliper, and more than one match

        Mahalanobis distance matches on the covariates directly rather than on a
        one-number summary. A **caliper** drops adopters with no close match (changing
        the estimand to the matched adopters), and 2:1 matching trades some bias for
        less variance.
        """,
    ),
    (
        "code",
        """
        variants = {
            "propensity 1:1": ps,
            "Mahalanobis 1:1": impact.match(
                areas, treatment="adopter", covariates=covariates,
                outcome="change_2014_2024", distance="mahalanobis", seed=SEED),
            "propensity 2:1, caliper 0.25 SD": impact.match(
                areas, treatment="adopter", covariates=covariates,
                outcome="change_2014_2024", distance="logit", ratio=2, caliper=0.25,
                seed=SEED),
            "inverse probability weighting": impact.match(
                areas, treatment="adopter", covariates=covariates,
                outcome="change_2014_2024", method="ipw", seed=SEED),
        }
        rows = {}
        for name, r in variants.items():
            bal = r.balance()
            bal = bal[bal["covariate"] != "distance"]
            rows[name] = {"estimate": r.estimate, "std. error": r.se,
                          "matched adopters": r.n_matched,
                          "max |SMD| after": bal["smd_after"].abs().max()}
        summary = pd.DataFrame(rows).T
        summary["true effect (2024)"] = truth_2024
        summary.round(3)
        """,
    ),
    (
        "md",
        """
        The cross-sectional matches estimate the effect on the 2014-2024 change in rate.
        They land between about -3 and -8 per 10,000 against a truth of about -4 in
        2024, with standard errors of 3-5: one outcome year per authority and 20
        adopters leave a lot of noise, and the remaining imbalance in the three-year
        growth matters because adopters were chosen on it. The variants move the
        estimate by more than the truth itself: choose one before looking at outcomes.

        ## Matched difference in differences

        `impact.matched_did` works on the panel. For each adoption wave it matches
        adopters to never-adopters on the outcome's pre-period **level and trend**
        (Mahalanobis distance on those features), then estimates a DiD on the matched
        panel, using the matched sets for inference. Matching on the trend is what
        defuses selection on rising rates.
        """,
    ),
    (
        "code",
        """
        mdid = impact.matched_did(df, outcome="cla_rate", unit="la_code", time="year",
                                  cohort="cohort", match_on=["level", "trend"],
                                  ratio=2, seed=SEED)
        print(mdid.summary())
        """,
    ),
    (
        "code",
        """
        ax = mdid.plot()
        ax.set_title("Matched DiD: balance on pre-period rates, level and trend");
        """,
    ),
    (
        "code",
        """
        naive = impact.did(df, outcome="cla_rate", unit="la_code", time="year",
                           cohort="cohort", method="cs", control="never",
                           inference="wild", n_boot=N_BOOT, seed=SEED)
        pd.DataFrame({
            "Callaway-Sant'Anna, all never-adopters": [naive.estimate, *naive.ci],
            "matched DiD (level + trend, 2:1)": [mdid.estimate, *mdid.ci],
            "true effect": [truth, np.nan, np.nan],
        }, index=["estimate", "95% CI low", "95% CI high"]).T.round(2)
        """,
    ),
    (
        "md",
        """
        Against all never-adopters, Callaway-Sant'Anna overstates the effect (the
        adopters' rising rates would have partly reversed anyway). Matching on the
        pre-period trend brings the estimate close to the truth.

        The matched DiD summary still carries a **selection-on-the-outcome** warning,
        and rightly: it describes the adopters, whose rates in the three years before
        adoption were higher and rose faster than those of most never-adopters (this
        panel was simulated that way). Matching is the response to that warning, not a
        reason to delete it; it works here because the matched comparison authorities
        had the same high, rising rates, which the balance table shows. With real data,
        back it up with a placebo in time (notebook 2).

        ## What to conclude, and what not to

        * Match only on characteristics measured before adoption, and show the balance
          table and love plot before any outcome.
        * With selection on the outcome's trajectory, match on the pre-period **trend**
          as well as the level (`match_on=["level", "trend"]`), or use synthetic control.
        * Matching on noisy pre-period outcomes is not free: if adopters were picked
          after a one-off spike, matched comparisons with a similar spike will also
          regress to the mean, and matching can *introduce* bias when the groups'
          long-run means differ (Daw and Hatfield 2018). Check with a placebo in time.
        * Matching handles observed differences only. It cannot fix an unobserved
          reason why authorities adopted (leadership, Ofsted pressure).
        * With 20 adopters, prefer permutation inference
          (`matched_did(..., inference="permutation")`) when the number of matched sets
          is small.
        """,
    ),
]
