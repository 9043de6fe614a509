"""Notebook 1: quick start with staggered adoption on a synthetic authority panel."""

from _nb_common import SETUP

NAME = "01_quick_start"

CELLS = [
    (
        "md",
        """
        # 1. Quick start: staggered adoption, and why two-way fixed effects can mislead

        **Who this is for.** Analysts in a local authority, a regional improvement
        partnership or What Works who need to say whether a programme changed the rate of
        children looked after (CLA), when authorities joined the programme in different
        years.

        **What you will do.**
        1. Build a synthetic panel of 150 English-like authorities, 2010-2025, in which
           most authorities adopt an innovation in one of four waves and its effect
           builds up over several years. Because the data are simulated, we *know* the
           true effect and can check each method against it.
        2. Compare the classic two-way fixed effects (TWFE) regression with two
           estimators built for staggered adoption: Callaway and Sant'Anna (2021) and
           Sun and Abraham (2021).
        3. Use the Goodman-Bacon (2021) decomposition to see *why* TWFE goes wrong.
        4. Read an event-study plot.

        Nothing here uses real authorities: the synthetic panel is calibrated to the
        published DfE statistics (levels, spread and year-to-year noise of the CLA rate),
        but codes are `LA001`..`LA150`. Notebook 2 turns to the real data.
        """,
    ),
    ("code", SETUP),
    (
        "code",
        """
        # Parameters
        QUICK = os.environ.get("IMPACT_QUICK", "0") == "1"
        SEED = 7  # same seed, same synthetic panel and same randomization draws
        """,
    ),
    (
        "md",
        """
        ## A synthetic panel with staggered adoption

        `impact.data.generate_la_panel` simulates authority x year counts of children
        looked after and child populations. Here 140 of 150 authorities adopt, in waves
        of 40, 40, 40 and 20 in 2013, 2016, 2019 and 2022 (years ending 31 March); ten
        never adopt. The innovation cuts the rate by 20% once fully in place, phased in
        over seven years: a realistic shape for a practice model that spreads through a
        workforce. The column `true_effect` holds the simulated effect (rate per 10,000)
        for each treated authority-year.
        """,
    ),
    (
        "code",
        """
        from impact.data import generate_la_panel

        df = generate_la_panel(
            seed=SEED,
            assignment="staggered",
            cohorts={2013: 40, 2016: 40, 2019: 40, 2022: 20},
            effect=-0.20,
            phase_in=6,
        )
        df.head()
        """,
    ),
    (
        "code",
        """
        panel = impact.Panel(
            df, unit="la_code", time="year", outcome="cla_rate", cohort="cohort"
        )
        print(f"{panel.n_units} authorities, {panel.n_periods} years "
              f"({panel.periods[0]}-{panel.periods[-1]}); "
              f"{panel.n_treated} adopt, {panel.n_never} never adopt")
        waves = df.groupby("cohort")["la_code"].nunique()
        print("Authorities per adoption wave (0 = never):", waves.to_dict())

        truth = df.loc[df["treated"] == 1, "true_effect"].mean()
        print(f"True average effect on adopters after adoption: {truth:.2f} per 10,000")
        """,
    ),
    (
        "md",
        """
        `impact.Panel` validates the data once (one row per authority and year, numeric
        outcome, treatment that never switches off) and is accepted by every estimator in
        the package, so you do not have to repeat the column names.

        First, always look at the raw data. Average rates by adoption wave:
        """,
    ),
    (
        "code",
        """
        fig, ax = plt.subplots()
        means = df.groupby(["cohort", "year"])["cla_rate"].mean().unstack(0)
        for wave in means.columns:
            label = "never adopt" if wave == 0 else f"adopt in {wave}"
            line, = ax.plot(means.index, means[wave], marker=".", label=label)
            if wave:
                ax.axvline(wave, color=line.get_color(), ls=":", lw=1)
        ax.set_title("Synthetic panel: mean rate of children looked after by adoption wave")
        ax.set_xlabel("Year ending 31 March")
        ax.set_ylabel("Children looked after per 10,000 children")
        ax.legend(frameon=False, ncol=3, fontsize="small");
        """,
    ),
    (
        "md",
        """
        ## Three estimators

        * **TWFE**: regress the rate on authority and year fixed effects and a treated
          dummy. This was the default for a generation of evaluations.
        * **Callaway-Sant'Anna** (`method="cs"`): estimate a separate 2x2 comparison for
          every adoption wave *g* and year *t*, ATT(g, t), always against authorities not
          (yet) treated, then average them. With only ten never-treated authorities we
          use `control="notyet"`: authorities that adopt later serve as comparisons
          until they adopt.
        * **Sun-Abraham** (`method="sunab"`): an event-study regression with separate
          coefficients per wave, averaged with the wave sizes as weights.

        `inference="auto"` (the default) chooses the inference to suit the design:
        analytic standard errors when treated and comparison authorities are both
        numerous, otherwise the wild cluster bootstrap or randomization inference. With
        only ten never-treated authorities it chooses randomization inference for all
        three estimators here (a studentized permutation interval for the headline and
        for every event-time row); the `Inference:` line of each `.summary()` says which
        was used.
        """,
    ),
    (
        "code",
        """
        fits = {
            "TWFE": impact.did(panel, method="twfe", seed=SEED),
            "Callaway-Sant'Anna": impact.did(
                panel, method="cs", control="notyet", seed=SEED
            ),
            "Sun-Abraham": impact.did(panel, method="sunab", seed=SEED),
        }
        table = pd.DataFrame(
            {
                name: {
                    "estimate": r.estimate,
                    "std. error": r.se,
                    "95% CI low": r.ci[0],
                    "95% CI high": r.ci[1],
                }
                for name, r in fits.items()
            }
        ).T
        table["true effect"] = truth
        table.round(2)
        """,
    ),
    (
        "md",
        """
        TWFE reports an effect well under half the true one, with a confidence interval
        that excludes the truth. The two staggered estimators are close to it. Nothing is
        wrong with the data; the problem is what TWFE compares.

        ## Why TWFE misleads: the Goodman-Bacon decomposition

        Goodman-Bacon (2021) showed that the TWFE coefficient is a weighted average of
        every possible 2x2 DiD between adoption waves: early vs never adopters, late vs
        never, early vs late (before the late wave adopts) and **late vs early, using the
        early adopters as the comparison after they have been treated**. When the effect
        grows over time, the early adopters' continuing improvement is subtracted from
        the late adopters' change, and the estimate shrinks or even flips sign.
        """,
    ),
    (
        "code",
        """
        bacon = impact.bacon(panel, seed=SEED)
        print(bacon.summary())
        """,
    ),
    (
        "code",
        """
        ax = bacon.plot()
        ax.set_ylabel("2x2 DiD estimate (CLA per 10,000 children)")
        ax.set_title("Goodman-Bacon decomposition of the TWFE estimate");
        """,
    ),
    (
        "md",
        """
        Almost half of the TWFE weight sits on "later vs earlier treated" comparisons,
        whose estimates are close to zero or of the wrong sign. With many adopters and
        few never-treated authorities (the usual situation for a national programme that
        rolls out in waves) this is the rule, not the exception.

        ## The event study

        The dynamic aggregation of Callaway-Sant'Anna averages the ATT(g, t) by years
        since adoption. Points left of zero are *placebo* estimates before adoption: if
        adopters and comparisons were on parallel paths, they should hover around zero.
        Points right of zero trace how the effect builds up. Here we can overlay the true
        path from the simulation.
        """,
    ),
    (
        "code",
        """
        cs = fits["Callaway-Sant'Anna"]
        ax = cs.plot(kind="event_study")
        true_path = (
            df[df["cohort"] > 0]
            .assign(event_time=lambda d: d["year"] - d["cohort"])
            .query("event_time >= 0")
            .groupby("event_time")["true_effect"].mean()
        )
        ax.plot(true_path.index, true_path.to_numpy(), "k--", lw=1.2,
                label="true effect (simulation)")
        ax.legend(frameon=False, fontsize="small")
        ax.set_ylabel("Effect on CLA rate (per 10,000 children)")
        ax.set_title("Callaway-Sant'Anna event study (not-yet-treated comparison)");
        """,
    ),
    (
        "code",
        """
        dynamic = cs.aggregate("dynamic")
        print(f"Average over years since adoption 0+: {dynamic.estimate:.2f} "
              f"(95% CI {dynamic.ci[0]:.2f} to {dynamic.ci[1]:.2f})")
        dynamic.to_frame()[["event_time", "estimate", "std_error", "conf_low", "conf_high"]].round(2)
        """,
    ),
    (
        "md",
        """
        The later event times rest on the early waves only (the 2022 wave is observed
        for four years), so they are noisier: read the left-hand part of the path for
        the build-up and the overall average for the headline.

        Other views of the same fit: `cs.aggregate("group")` (one effect per wave) and
        `cs.aggregate("calendar")` (one per year), and a formal test that all
        pre-adoption estimates are zero:
        """,
    ),
    (
        "code",
        """
        print(cs.aggregate("group").to_frame()[["term", "estimate", "std_error"]].round(2))
        print(cs.pretrend_test())
        """,
    ),
    (
        "md",
        """
        A word on that test: the data were simulated with parallel trends, yet two of
        the 26 pre-adoption estimates (three and nine years before adoption) have
        intervals that exclude zero. The joint Wald test does not reject here (p = 0.23)
        because its p-value comes from random re-assignments of the cohorts; the same
        statistic referred to the chi-squared(26) distribution would give p = 0.005,
        and with only ten never-treated authorities that reference over-rejects.
        Pre-tests are noisy in both directions and have low power against the
        violations that matter (Roth 2022; the summary below reports the smallest
        linear trend the pre-test would catch): treat them as a prompt to look at the
        plot, not as a verdict.

        ## What to conclude, and what not to

        * **Do** report a staggered-adoption estimator (Callaway-Sant'Anna or
          Sun-Abraham) as the headline whenever adoption is staggered and effects may
          change over time. Show the event study and the Bacon decomposition of TWFE if
          your audience is used to TWFE numbers.
        * **Do not** read a small or null TWFE estimate as "no effect" under staggered
          adoption; with growing effects it is biased towards zero.
        * **Do not** take flat pre-adoption estimates as proof of parallel trends: they
          are a necessary check, not a guarantee. Notebook 2 shows a real programme in
          which adopters were chosen *because* their rates were rising, and how a placebo
          in time exposes it.
        * Every result has `.summary()`, `.to_frame()`, `.to_dict()` (JSON-safe, used by
          study files) and `.plot()`. `result.design()` tells you what effect the design
          could have detected (notebook 5).
        """,
    ),
    (
        "code",
        """
        print(cs.summary())
        """,
    ),
    (
        "md",
        """
        The summary ends with a **selection-on-the-outcome** warning: the test compares
        the adopters' level and trend over the three years before adoption with those
        of the comparison authorities. Here it is a false alarm: the waves were drawn
        at random, the adopters sit near the middle of the comparison authorities (about
        the 50th percentile on both level and trend), and a test at the 5% level fires
        by chance about once in twenty panels. On real data, where adopters are often
        chosen because their rates were high or rising, take the warning seriously and
        run the placebo in time of notebook 2 before reporting an effect.
        """,
    ),
]
