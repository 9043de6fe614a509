"""Notebook 5: planning an evaluation (power and minimum detectable effects)."""

from _nb_common import SETUP

NAME = "05_planning_power"

CELLS = [
    (
        "md",
        """
        # 5. Planning an evaluation: could this design ever detect a realistic effect?

        Before estimating anything, ask what effect the design could detect. Local
        evaluations of children's social care innovations typically involve a handful of
        authorities and claim effects of 5-15% on the rate of children looked after.
        This notebook answers, **on the real English panel**:

        1. How many authorities and how many years are needed? (analytic minimum
           detectable effects, MDE)
        2. What does a placebo simulation on the real data say? (MDE curves: inject a
           known effect into randomly chosen authorities, re-estimate, count how often
           it is detected)
        3. What happens when adopters are selected on their rates?
        4. Can we say anything about a subgroup, such as children from ethnic-minority
           groups, whose numbers per authority are small?
        5. The verdict on a small project.

        Throughout, the MDE is the smallest true effect that a two-sided 5% test would
        detect with 80% probability.
        """,
    ),
    ("code", SETUP),
    (
        "code",
        """
        # Parameters
        QUICK = os.environ.get("IMPACT_QUICK", "0") == "1"
        N_SIMS = 400 if QUICK else 1000  # placebo draws per design
        SEED = 2025
        """,
    ),
    (
        "md",
        """
        ## The pilot panel

        The real panel of children looked after per 10,000 children, 2014-2025, for the
        authorities observed every year (reorganised areas and the two tiny authorities
        left out, as in notebook 2). Nobody here is treated: it is the "no programme"
        world into which the simulations inject effects.
        """,
    ),
    (
        "code",
        """
        from impact.data import reference_data_dir

        cla = pd.read_csv(reference_data_dir() / "cla_la_panel_2010_2025.csv",
                          dtype={"old_la_code": str, "harmonised_id": str})
        keep = (~cla["la_name"].isin(["City of London", "Isles of Scilly"])
                & ~cla["harmonised_id"].isin(
                    ["DORSET_AREA", "NORTHAMPTONSHIRE_AREA", "CUMBRIA_AREA"]))
        pilot = cla[keep & (cla["year"] >= 2014)].dropna(subset=["cla_rate_per_10000"])
        seen = pilot.groupby("la_name")["year"].nunique()
        pilot = pilot[pilot["la_name"].isin(seen[seen == seen.max()].index)].copy()
        pilot["log_rate"] = np.log(pilot["cla_rate_per_10000"])
        cols = dict(unit="la_name", time="year")
        print(f"{pilot['la_name'].nunique()} authorities, "
              f"{pilot['year'].min()}-{pilot['year'].max()}, "
              f"median rate {pilot['cla_rate_per_10000'].median():.0f} per 10,000")
        """,
    ),
    (
        "md",
        """
        ## 1. Analytic MDE: authorities and years

        `impact.power.panel_did_mde` is the serial-correlation-robust formula of Burlig,
        Preonas and Woerman (2020) for a DiD with `pre` and `post` years. Given a pilot
        panel it estimates the residual variance and the covariances between years from
        the data, which matters: rates of children looked after are very persistent from
        one year to the next. On the log rate the MDE reads as a proportion.
        """,
    ),
    (
        "code",
        """
        grid = []
        for n_treated in [5, 10, 20, 40]:
            for pre, post in [(3, 2), (4, 4), (6, 3), (6, 6)]:
                mde = impact.power.panel_did_mde(
                    pilot, outcome="log_rate", n_treated=n_treated, pre=pre,
                    post=post, **cols)
                grid.append({"treated authorities": n_treated,
                             "years before / after": f"{pre} / {post}",
                             "MDE (% of the rate)": 100 * mde})
        analytic = pd.DataFrame(grid).pivot(index="treated authorities",
                                            columns="years before / after",
                                            values="MDE (% of the rate)")
        analytic.round(1)
        """,
    ),
    (
        "md",
        """
        Two lessons. The number of treated authorities dominates: going from 5 to 20
        roughly halves the MDE. More years do **not** help much, and can hurt: when an
        authority's rate drifts persistently, a longer post-period gives the treated
        and comparison groups more time to drift apart for reasons unrelated to the
        programme. Plan for more authorities, not longer follow-up.

        ## 2. Simulation on the real panel

        The analytic formula assumes a particular error model. `impact.power.simulate`
        needs no such assumption: it draws `n_treated` authorities at random from the
        real panel, multiplies their rate by (1 + effect) from the adoption year on,
        re-estimates, and records how often the effect is detected. With no effect
        injected (effect 0) the rejection rate is the test's actual size. The whole grid
        of designs shares the same random draws, and vectorised estimators make
        thousands of draws take seconds.
        """,
    ),
    (
        "code",
        """
        sims = {}
        for method in ["twfe", "cs"]:
            sims[method] = impact.power.simulate(
                pilot, outcome="cla_rate_per_10000", **cols,
                treatment_time=2020, n_treated=[5, 10, 20, 40],
                effect=[0.0, -0.05, -0.10, -0.15, -0.20, -0.30],
                estimator="did", method=method, n_sims=N_SIMS, seed=SEED,
            )
        print(sims["cs"].summary())
        """,
    ),
    (
        "code",
        """
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        sims["cs"].plot(kind="power", ax=axes[0])
        for method, label in [("twfe", "TWFE"), ("cs", "Callaway-Sant'Anna")]:
            mde = sims[method].mde(0.8) * 100
            axes[1].plot(mde.index, mde.to_numpy(), marker="o", label=label)
        axes[1].set_xticks([5, 10, 20, 40])
        axes[1].set_xlabel("Number of treated authorities")
        axes[1].set_ylabel("MDE at 80% power (% of the rate)")
        axes[1].set_title("Minimum detectable effect, real CLA panel 2014-2025")
        axes[1].set_ylim(bottom=0)
        axes[1].legend(frameon=False)
        fig.tight_layout()
        """,
    ),
    (
        "code",
        """
        pd.DataFrame({m: 100 * r.mde(0.8) for m, r in sims.items()}).rename(
            columns={"twfe": "TWFE MDE (%)", "cs": "Callaway-Sant'Anna MDE (%)"}
        ).round(1)
        """,
    ),
    (
        "md",
        """
        A missing value means the MDE lies beyond the largest simulated effect (30%).
        The simulated MDEs agree with the analytic ones in order of magnitude: with 5
        authorities only effects of roughly 16-22% are reliably detectable, with 10
        roughly 12-16%. Even 40 treated authorities would detect a 5% effect only about
        half the time. Callaway-Sant'Anna is more precise than TWFE here because it
        compares each year with the year before adoption rather than with the average of
        all pre-years.

        ## 3. Adopters selected on their rates

        Real adopters are rarely random. `assignment="rising_rate"` draws placebo
        adopters from the authorities with the fastest pre-period growth (the SFPC
        eligibility rule); `"high_rate"` from those with the highest level. With no
        effect injected, the average estimate should be zero; any departure is bias.
        """,
    ),
    (
        "code",
        """
        rows = []
        for assignment in ["random", "high_rate", "rising_rate"]:
            res = impact.power.simulate(
                pilot, outcome="cla_rate_per_10000", **cols, treatment_time=2020,
                n_treated=10, effect=0.0, estimator="did", method="twfe",
                n_sims=N_SIMS, seed=SEED, assignment=assignment,
            )
            row = res.table.iloc[0]
            rows.append({"assignment": assignment,
                         "mean error (% of the rate)": 100 * row["bias"],
                         "RMSE (% of the rate)": 100 * row["rmse"],
                         "false positives at 5% (%)": 100 * row["power"]})
        pd.DataFrame(rows).set_index("assignment").round(1)
        """,
    ),
    (
        "md",
        """
        Selection on the outcome shifts the estimate by 5-11% with no programme at
        all, as large as the effects being claimed. Here the shift is upwards (the
        authorities whose rates rose fastest before 2020 kept rising relative to the
        others); for the SFPC adopters of notebook 2 the rise reversed. The direction
        depends on the period and the rule, which is why it cannot be corrected after
        the fact. The last column is what an evaluator would see: the share of
        no-effect draws in which a test at the 5% level (calibrated, as the analyst's
        randomisation test is, on random re-assignment) declares an effect. Under random
        assignment it is about 5%; under selection it is far higher. The analytic MDE
        cannot show this; only the design can guard against it (comparison authorities
        matched on trends, a placebo in time, or randomisation).

        ## 4. Subgroups: small counts, more noise

        Evaluators are often asked whether a programme worked for particular groups of
        children, such as children from ethnic-minority groups. The rate for a subgroup
        rests on far fewer children per authority, so it carries more count noise.
        `impact.power.subgroup_mde` re-draws each authority's subgroup count as
        Poisson(share x child population x rate) in every simulation and reports the
        MDE by the subgroup's share of the child population.
        """,
    ),
    (
        "code",
        """
        from impact.power import plot_subgroup_mde

        sub = impact.power.subgroup_mde(
            pilot, shares=(1.0, 0.3, 0.1, 0.03, 0.01), denominator="child_pop_0_17",
            outcome="cla_rate_per_10000", **cols, treatment_time=2020,
            n_treated=[10, 40], effect=[0.0, -0.05, -0.1, -0.2, -0.3, -0.5],
            estimator="did", method="twfe", n_sims=N_SIMS, seed=SEED,
        )
        ax = plot_subgroup_mde(sub)
        ax.set_title("MDE for a subgroup of children, by its share of the population")
        sub.assign(mde=lambda t: (100 * t["mde"]).round(1)).rename(
            columns={"mde": "MDE (% of the rate)"})
        """,
    ),
    (
        "md",
        """
        For groups of 10% of children or more, count noise adds little to the MDE
        (authority-level drift dominates). Below that it grows quickly: at 1-3% of
        children the MDE rises by a third to over 80%. This simulation adds only
        Poisson count noise; real subgroup rates also differ in level and trend between
        authorities, so treat these figures as lower bounds.
        Subgroup findings from small programmes should be reported as descriptive, and a
        null subgroup result as *uninformative*, not as "no effect for this group".

        ## 5. The verdict on a small project

        Suppose a project runs in five authorities and hopes to cut the rate by 5%.
        """,
    ),
    (
        "code",
        """
        print(sims["cs"].verdict(-0.05, n_treated=5, noun="authorities"))
        print(sims["cs"].verdict(-0.05, n_treated=40, noun="authorities"))
        """,
    ),
    (
        "md",
        """
        The same check is attached to every fitted result: `result.design()` reports the
        MDE of the design the result actually used. Here, five authorities picked at
        random from the real panel as a pretend project starting in 2021 (there is no
        programme, so any "effect" is noise):
        """,
    ),
    (
        "code",
        """
        rng = np.random.default_rng(SEED)
        names = pilot["la_name"].unique()
        project = set(rng.choice(names, size=5, replace=False))
        demo = pilot.assign(cohort=np.where(pilot["la_name"].isin(project), 2021, 0))
        fit = impact.did(demo, outcome="cla_rate_per_10000", cohort="cohort",
                         method="cs", seed=SEED, **cols)
        print(f"Estimate: {fit.estimate:+.2f} per 10,000 (95% CI {fit.ci[0]:+.2f} to "
              f"{fit.ci[1]:+.2f}); inference: {fit.inference}")
        print(fit.design())
        """,
    ),
    (
        "md",
        """
        ## What to conclude, and what not to

        * **Before** funding an evaluation, compute the MDE on real data for the number
          of authorities you will actually have. If it is larger than any plausible
          effect, the evaluation cannot tell success from failure; say so, and consider
          pooling projects, a stepped-wedge roll-out, or process measures instead.
        * More authorities buy far more precision than more years.
        * A non-significant result from an underpowered design is not evidence of no
          effect; a significant one from such a design is likely to exaggerate the
          effect (Gelman and Carlin's type-M error).
        * Selection of adopters on their rates can bias estimates by as much as the
          effects claimed: power calculations assume a valid design, they do not provide
          one.
        """,
    ),
]
