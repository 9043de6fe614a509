"""Notebook 2: the real children-looked-after panel and the selection-on-trends trap."""

from _nb_common import SETUP

NAME = "02_real_cla_panel"

CELLS = [
    (
        "md",
        """
        # 2. The real children-looked-after panel, and the adopters-selected-on-rising-rates trap

        This notebook works with the published DfE statistics on children looked after
        (CLA) in England (SSDA903 return, *Children looked after in England including
        adoptions*, Open Government Licence v3). It covers:

        1. **Reading the DfE tables**: the raw release files, their suppression markers
           (`c`, `x`, `z`) and why the same year has different figures in different
           releases.
        2. **Harmonising authorities**: 2010-2025 saw Dorset, Northamptonshire and
           Cumbria reorganised; a stable geography needs those areas combined.
        3. **The trap**: authorities that joined *Strengthening Families, Protecting
           Children* (SFPC) were eligible because their rates were high and rising.
           A naive difference in differences then credits the programme with the
           regression to the mean that follows. A **placebo in time** exposes this.

        The reference data folder is found with `impact.data.reference_data_dir()`
        (`$IMPACT_REFERENCE_DATA`, else `../shared/data` next to the checkout), so the
        notebook runs from any working directory.
        """,
    ),
    ("code", SETUP),
    (
        "code",
        """
        # Parameters
        QUICK = os.environ.get("IMPACT_QUICK", "0") == "1"
        N_BOOT = 199 if QUICK else 999  # random re-assignments for permutation inference
        SEED = 2020
        """,
    ),
    (
        "code",
        """
        from impact.data import cla_panel, read_cla, reference_data_dir

        DATA = reference_data_dir()
        RAW = DATA / "raw_dfe"
        raw_files = sorted(RAW.glob("*.csv")) if RAW.is_dir() else []
        RAW_OK = bool(raw_files)
        if RAW_OK:
            print(f"{len(raw_files)} raw DfE release files:")
            for f in raw_files:
                print("  ", f.name)
        else:
            print("The raw DfE files (raw_dfe/) are not in the reference data folder: "
                  "the cells on reading raw releases are skipped; the rest of the "
                  "notebook uses the harmonised panel.")
        """,
    ),
    (
        "md",
        """
        ## 1. Reading the published tables

        `impact.data.read_cla` reads one release file (the EES
        `cla_number_and_rate_per_10k_children.csv` of 2022-2025, or the older SFR
        underlying-data CSVs) into a long frame with one row per published figure. It
        never turns a marker into a number: the value is missing and the marker and its
        meaning are kept in `count_marker` / `count_reason`. Each frame carries its
        *vintage* (release, layout, years) in `.attrs`.
        """,
    ),
    (
        "code",
        """
        if RAW_OK:
            releases = [read_cla(f) for f in raw_files]
            for frame in releases:
                v = frame.attrs["vintage"]
                print(f"{v['release']}: years {v['years'][0]}-{v['years'][-1]}, "
                      f"{len(frame):,} rows")
            latest = releases[-1]
            markers = (
                latest[latest["count_marker"].fillna("") != ""]
                .groupby(["count_marker", "count_reason"])
                .agg(rows=("la_code", "size"),
                     example=("la_name", "first"))
            )
            display(markers)
        """,
    ),
    (
        "md",
        """
        `z` (*not applicable*) marks authorities that did not exist that year (for
        example Cumbria after its 2023 split); `c` marks small numbers suppressed to
        protect children (City of London, the Isles of Scilly). Coercing either to
        zero would invent data.

        **Revisions.** Rates for the same year change between releases when ONS revises
        its population estimates. Record which release you used:
        """,
    ),
    (
        "code",
        """
        if RAW_OK:
            england = pd.concat(releases).query(
                "geographic_level == 'national' and measure == 'at_31_march'"
            )
            display(
                england.pivot(index="year", columns="release", values="rate")
                .rename_axis(index="year ending 31 March",
                             columns="CLA per 10,000 children, by release")
            )
        """,
    ),
    (
        "md",
        """
        England's 2021 rate was published as 67 per 10,000 in the 2022 release and 69
        from the 2023 release on, with the same count of children: the population
        estimate moved.

        ## 2. Harmonising authorities

        `impact.data.cla_panel` takes any set of releases and keeps, for each authority
        and year, the figure from the latest release that publishes both the count and
        the rate. With `harmonise=True` (the default) it sums counts and child
        populations of reorganised authorities within a stable area and recomputes the
        rate: `DORSET_AREA` (Bournemouth, Poole, Dorset -> BCP and Dorset Council),
        `NORTHAMPTONSHIRE_AREA` (split into North and West Northamptonshire in 2021) and
        `CUMBRIA_AREA` (Cumberland, Westmorland and Furness from 2023). City of London
        and the Isles of Scilly are excluded by default, with the reason recorded.
        """,
    ),
    (
        "code",
        """
        if RAW_OK:
            recent = cla_panel(releases)
            print(f"{recent['la_code'].nunique()} stable areas, years "
                  f"{recent['year'].min()}-{recent['year'].max()}")
            for code, reason in recent.attrs["excluded"].items():
                print(f"excluded {code}: {reason}")
            display(
                recent[recent["la_code"] == "CUMBRIA_AREA"][
                    ["la_code", "year", "count", "child_pop", "rate", "rate_basis",
                     "members", "release"]
                ]
            )
        """,
    ),
    (
        "md",
        """
        The 2010-2025 panel shipped with the reference data, `cla_la_panel_2010_2025.csv`,
        was built the same way from the SFR files (2010-2017) and the EES releases
        (2018-2025); the older years' rates are derived from counts and ONS child
        populations (`rate_basis`). It keeps one row per original authority and carries
        `harmonised_id` for combining the reorganised ones. A quick consistency check
        against the panel we just built from the raw releases:
        """,
    ),
    (
        "code",
        """
        cla = pd.read_csv(DATA / "cla_la_panel_2010_2025.csv",
                          dtype={"old_la_code": str, "harmonised_id": str})
        print(f"{len(cla):,} rows, {cla['old_la_code'].nunique()} authorities, "
              f"{cla['year'].min()}-{cla['year'].max()}")
        print("rate basis:", cla["rate_basis"].value_counts().to_dict())
        print("suppressed rows:",
              cla.loc[cla["cla_31mar_marker"].notna(), ["la_name", "year"]]
              .to_dict("records"))
        if RAW_OK:
            both = recent.merge(cla, left_on=["la_code", "year"],
                                right_on=["old_la_code", "year"])
            gap = (both["count"] - both["cla_31mar"]).abs()
            print(f"{len(both):,} authority-years in both: largest difference in the "
                  f"count of children = {gap.max():g}")
        """,
    ),
    (
        "md",
        """
        ## 3. The trap: adopters selected on high and rising rates

        SFPC (2019/20-2025) helped 17 authorities adopt one of three practice models:
        Family Safeguarding (Hertfordshire), Family Valued (Leeds) and No Wrong Door
        (North Yorkshire). The adopters named in published sources (WWCSC and
        Foundations project pages, Warrington Council; see `research/domain.md` 2.4)
        are coded below. Family Valued's trial protocol made eligible authorities with
        "high rates and/or rising numbers of looked-after children over the last three
        years". The programmes started between early 2020 and April 2021; the CLA rate is
        a stock on 31 March, so we code the first treated year as 2021 (2022 for
        Warrington).

        We drop the three innovators (treated earlier by the same models), the two tiny
        authorities and the three reorganised areas, and keep authorities observed in
        every year. The outcome is the log rate, so effects read as proportions.
        """,
    ),
    (
        "code",
        """
        ADOPTERS = {
            # Family Safeguarding
            "Cambridgeshire": 2021, "Walsall": 2021, "Lancashire": 2021,
            "Telford and Wrekin": 2021, "Wandsworth": 2021, "Swindon": 2021,
            # Family Valued
            "Darlington": 2021, "Warwickshire": 2021, "Newcastle upon Tyne": 2021,
            "Coventry": 2021, "Solihull": 2021, "Sefton": 2021,
            # No Wrong Door
            "Middlesbrough": 2021, "Warrington": 2022, "Rochdale": 2021,
            "Norfolk": 2021, "Redcar and Cleveland": 2021,
        }
        drop = {"Hertfordshire", "Leeds", "North Yorkshire",
                "City of London", "Isles of Scilly"}
        reorganised = {"DORSET_AREA", "NORTHAMPTONSHIRE_AREA", "CUMBRIA_AREA"}

        sample = cla[~cla["la_name"].isin(drop)
                     & ~cla["harmonised_id"].isin(reorganised)].dropna(
            subset=["cla_rate_per_10000"])
        years_seen = sample.groupby("la_name")["year"].nunique()
        sample = sample[sample["la_name"].isin(
            years_seen[years_seen == years_seen.max()].index)].copy()
        sample["cohort"] = sample["la_name"].map(ADOPTERS).fillna(0).astype(int)
        sample["log_rate"] = np.log(sample["cla_rate_per_10000"])
        missing = set(ADOPTERS) - set(sample["la_name"])
        print(f"{sample['la_name'].nunique()} authorities, "
              f"{(sample.groupby('la_name')['cohort'].first() > 0).sum()} adopters; "
              f"adopters not found: {missing or 'none'}")
        """,
    ),
    (
        "code",
        """
        adopter = sample["cohort"] > 0
        medians = (
            sample.assign(group=np.where(adopter, "SFPC adopters (17)",
                                         "other authorities"))
            .groupby(["group", "year"])["cla_rate_per_10000"].median().unstack(0)
        )
        fig, ax = plt.subplots()
        for col in medians:
            ax.plot(medians.index, medians[col], marker="o", label=col)
        ax.axvspan(2016, 2019, color="tab:orange", alpha=0.08,
                   label="eligibility window (3 years of rising rates)")
        ax.axvline(2020.5, color="grey", ls="--", lw=1, label="SFPC starts (2020-21)")
        ax.set_title("Median rate of children looked after: SFPC adopters vs others")
        ax.set_xlabel("Year ending 31 March")
        ax.set_ylabel("Children looked after per 10,000 children")
        ax.legend(frameon=False, fontsize="small");
        """,
    ),
    (
        "md",
        """
        The adopters' median rose much faster than everyone else's in the years before
        the programme, and fell afterwards. Was the fall the programme, or the rise
        reversing? A naive 2x2 DiD (adopters vs others, one year before vs 2025) gives a
        different answer for every choice of "before" year:
        """,
    ),
    (
        "code",
        """
        rows = []
        for before in [2013, 2015, 2017, 2019]:
            two = sample[sample["year"].isin([before, 2025])].assign(
                d=lambda x: ((x["cohort"] > 0) & (x["year"] >= x["cohort"])).astype(int)
            )
            fit = impact.did(two, outcome="log_rate", unit="la_name", time="year",
                             treated="d", method="2x2", inference="analytic",
                             log_outcome=True)
            rows.append({"before year": before, "after year": 2025,
                         "DiD on log rate": fit.estimate, "std. error": fit.se})
        pd.DataFrame(rows).round(3)
        """,
    ),
    (
        "md",
        """
        From a small *rise* (+3%, against 2013) to a 10% fall (against 2019), depending
        only on the window. The event
        study shows why: the adopters were already diverging upwards years before SFPC.
        (Callaway-Sant'Anna with never-adopting comparison authorities. With 17 treated
        authorities analytic standard errors over-reject, so we use randomization
        inference, `inference="permutation"`, which is also what the default `"auto"`
        picks here: the adoption years are re-assigned at random among the
        authorities, and every event-time estimate gets a studentized permutation
        interval from the same re-assignments as the headline. The wild cluster
        bootstrap, `inference="wild"`, would cover the headline only; the event-time
        intervals would then be analytic, and the result warns about that.)
        """,
    ),
    (
        "code",
        """
        kw = dict(outcome="log_rate", log_outcome=True, unit="la_name", time="year",
                  cohort="cohort")
        cs = impact.did(sample, method="cs", control="never", base_period="universal",
                        inference="permutation", n_boot=N_BOOT, seed=SEED, **kw)
        ax = cs.plot(kind="event_study")
        ax.set_ylabel("Effect on log CLA rate (approx. proportion)")
        ax.set_title("SFPC adopters vs other authorities: event study (universal base year)");
        """,
    ),
    (
        "md",
        """
        With `base_period="universal"` every estimate is relative to the year before
        adoption. Going back in time the estimates fall below zero: the adopters'
        rates were *lower* relative to the comparison authorities years earlier, and
        climbed to the adoption year. Parallel trends fail before the programme
        started, so the post-adoption fall cannot be attributed to it.

        ## The placebo in time

        A placebo in time pretends the programme started *k* years earlier and re-runs
        the same estimator using only data from before the real start. There was no
        programme then, so a credible design should find nothing. Here we move adoption
        three years earlier (to 2018), so the placebo "post" period is 2018-2020:
        """,
    ),
    (
        "code",
        """
        cs_varying = impact.did(sample, method="cs", control="never",
                                inference="permutation", n_boot=N_BOOT, seed=SEED,
                                **kw)
        placebo = cs_varying.placebo_in_time(3)
        print(f"Headline estimate (2021-2025): {cs_varying.estimate:+.3f} "
              f"(95% CI {cs_varying.ci[0]:+.3f} to {cs_varying.ci[1]:+.3f})")
        print(f"Placebo in time (2018-2020):  {placebo.estimate:+.3f} "
              f"(95% CI {placebo.ci[0]:+.3f} to {placebo.ci[1]:+.3f})")
        print(*[w for w in cs_varying.warnings if w.startswith("Selection")], sep="\\n")
        """,
    ),
    (
        "md",
        """
        The placebo "effect" is an *increase* of about 3% in years when nothing was done,
        half the size of the headline fall and in the opposite direction; the event study
        shows a steady relative rise of some 15% over the decade before adoption; and
        the selection-on-the-outcome diagnostic, attached to every DiD result, finds the
        adopters' rates over the three years before adoption higher than those of about
        70% of the other authorities on average, more than random adoption would
        produce (its p-value uses random re-assignments of the adoption years). Their
        trend over those last three years was not unusual: the relative rise came
        earlier, as the event study shows. The headline, a fall of about 5% whose
        interval only just excludes zero, is therefore not evidence that SFPC reduced
        the rate: part or all of it may be the rise reversing (regression to the mean),
        the pattern the eligibility rule invites.

        ## What to conclude, and what not to

        * **Do not** report a naive DiD for a programme whose participants were chosen on
          the outcome's recent trajectory. Here it ranges from about +3% to -11% with the
          window alone (compare the descriptive figures in `research/domain.md` 2.4).
        * **Do** run a placebo in time and show the event study with a universal base
          year before any effect estimate; a non-zero placebo is a finding to report.
        * Better designs for this question: match adopters to comparison authorities on
          the pre-period level *and trend* (notebook 4), synthetic control with a good
          pre-period fit (notebook 3), or the stepped-wedge trials themselves (Family
          Safeguarding and Family Valued were trialled; reports from 2025).
        * Keep the data layer honest: record the release vintage, never coerce
          suppression markers, and harmonise reorganised authorities before building a
          panel.
        * 17 treated authorities is a small number of clusters: use
          `inference="permutation"` (the default `"auto"` picks it here; it covers the
          event-time rows too) or `"wild"` (the headline only), and see notebook 5 for
          what effect such a design could detect at all.
        """,
    ),
]
