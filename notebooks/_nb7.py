"""Notebook 7: Family Safeguarding on the real panels: gaps, three outcomes, a verdict."""

from _nb_common import SETUP

NAME = "07_family_safeguarding"

CELLS = [
    (
        "md",
        """
        # 7. Family Safeguarding on real data: gaps, three outcomes and a verdict

        Family Safeguarding is Hertfordshire's whole-family model of children's social
        work: social workers in teams with adult mental-health, domestic-abuse and
        substance-misuse practitioners, and motivational interviewing. Hertfordshire
        started it with Innovation Programme money in 2015; four authorities took it up
        in round 2 (2017); six more adopted it under *Strengthening Families, Protecting
        Children* (SFPC) from 2020. Did it reduce the number of children looked after
        (CLA), children in need (CIN) or children on child protection plans (CPP)?

        Real data bring three problems that a textbook example does not:

        1. **who adopted when** lives in reports, not in the statistics;
        2. **the panels have holes**: a cyber-attack, a late return, a suppressed cell;
        3. **several outcomes** are looked at together, and one of three will look
           "significant" by chance more often than one in twenty.

        This notebook walks through each with `impact`, then runs the study file
        `studies/family_safeguarding.toml` that writes the evaluation down, and reads its
        verdict.
        """,
    ),
    ("code", SETUP),
    (
        "code",
        """
        # Parameters
        QUICK = os.environ.get("IMPACT_QUICK", "0") == "1"
        N_BOOT = 199 if QUICK else 999  # cohort re-assignments for randomization inference
        """,
    ),
    (
        "md",
        """
        ## 1. Who adopted Family Safeguarding, and when

        `impact.data.programmes()` is a table of real programme participation, one row
        per authority and programme, each with its source. The *cohort year* is the
        first 31 March after the start date, because the DfE counts are taken on 31
        March: an authority that started in May 2017 is first "treated" in the count of
        31 March 2018.
        """,
    ),
    (
        "code",
        """
        prog = impact.data.programmes()
        fs = prog[prog["model"] == "Family Safeguarding"]
        fs[["programme", "la_name", "role", "start", "cohort_year", "source"]]
        """,
    ),
    (
        "md",
        """
        ## 2. The data: three outcomes, two files, and holes

        CLA comes from the SSDA903 return (`cla_la_panel_2010_2025.csv`), CIN and CPP
        from the children in need census (`cin_cpp_la_2013_2025.csv`, from 2013). Both
        are keyed by the DfE authority code. We keep 2013-2025, drop authorities that
        adopted the other whole-system models (Family Valued, No Wrong Door: they are
        not "untreated"), the two tiny authorities and the areas whose boundaries
        changed.
        """,
    ),
    (
        "code",
        """
        from impact.data import reference_data_dir

        DATA = reference_data_dir()
        cla = pd.read_csv(DATA / "cla_la_panel_2010_2025.csv")
        cin = pd.read_csv(DATA / "cin_cpp_la_2013_2025.csv")
        other_models = prog.loc[
            prog["model"].isin(["Family Valued", "No Wrong Door"]), "la_name"
        ].unique()
        df = cla.merge(
            cin[["old_la_code", "year", "cin_rate_per_10000", "cpp_rate_per_10000"]],
            on=["old_la_code", "year"],
            how="left",
        )
        df = df[
            df["year"].between(2013, 2025)
            & ~df["la_name"].isin([*other_models, "City of London", "Isles of Scilly"])
            & ~df["harmonised_id"].isin(
                ["DORSET_AREA", "NORTHAMPTONSHIRE_AREA", "CUMBRIA_AREA"]
            )
        ]
        cohorts = dict(zip(fs["la_name"], fs["cohort_year"], strict=True))
        df = df.assign(fs_cohort=df["la_name"].map(cohorts))
        OUTCOMES = ["cla_rate_per_10000", "cin_rate_per_10000", "cpp_rate_per_10000"]
        print(df["la_name"].nunique(), "authorities,", df["fs_cohort"].notna().groupby(df["la_name"]).any().sum(), "adopters")
        df[OUTCOMES].isna().sum()
        """,
    ),
    (
        "md",
        """
        Some CIN and CPP values are missing. By default a `Panel` refuses an outcome
        with holes, and says what to do:
        """,
    ),
    (
        "code",
        """
        cols = dict(unit="la_name", time="year", cohort="fs_cohort")
        try:
            impact.Panel(df, outcome="cpp_rate_per_10000", **cols)
        except impact.errors.DataError as err:
            print(err)
        """,
    ),
    (
        "md",
        """
        `balance="drop"` would throw away every authority with a hole: Hackney (whose
        2021 and 2022 returns were lost to a cyber-attack) and Hampshire would vanish
        from the CPP analysis altogether. `balance="keep"` keeps them, treats the
        missing cells as gaps, and says exactly what it kept and dropped:
        """,
    ),
    (
        "code",
        """
        panel = impact.Panel(df, outcome="cpp_rate_per_10000", balance="keep", **cols)
        print(*panel.warnings, sep="\\n")
        panel.gaps()
        """,
    ),
    (
        "md",
        """
        Estimators then use the rows that exist. Regressions (TWFE, event study, 2x2,
        imputation) give the missing cells zero weight; Callaway and Sant'Anna's
        estimator compares, for each cohort and year, the mean outcomes of the
        authorities observed in that year, as R `did` does with
        `allow_unbalanced_panel = TRUE` (the package's tests pin both to `pyfixest` and
        `csdid` on an unbalanced panel). Methods that need a complete series for every
        unit (synthetic control, synthetic DiD, matched DiD) refuse, naming the units
        and the missing years:
        """,
    ),
    (
        "code",
        """
        try:
            impact.synth(panel, treated_units="Hertfordshire", treatment_time=2016)
        except impact.errors.DataError as err:
            print(err)
        """,
    ),
    (
        "md",
        """
        ## 3. Three outcomes in one call, with multiplicity-adjusted p-values

        `impact.did(..., outcome=[...])` fits each outcome with the same options. With
        eleven adopters (two cohorts of one authority each), normal-theory p-values are
        not to be trusted, so the inference is randomization: the cohorts are
        re-assigned among the authorities many times and each outcome is re-estimated
        under every assignment. Because all outcomes see the *same* re-assignments,
        their joint distribution gives the **Romano-Wolf** step-down adjustment, which
        controls the chance of any false positive among the three outcomes while
        using their correlation (CLA, CIN and CPP move together). **Holm** is the
        simpler, more conservative step-down that uses only the p-values.
        """,
    ),
    (
        "code",
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", impact.errors.ImpactWarning)
            multi = impact.did(
                df,
                outcome=OUTCOMES,
                method="cs",
                control="never",
                balance="keep",
                inference="permutation",
                n_boot=N_BOOT,
                seed=20160331,
                **cols,
            )
        multi.to_frame()
        """,
    ),
    (
        "code",
        """
        multi.plot();
        """,
    ),
    (
        "md",
        """
        Each outcome's full result is there too: its event study, for instance. The
        pre-adoption coefficients are the first thing to read. If adopters' rates were
        already moving differently before they adopted, the post-adoption
        coefficients measure that drift as much as the programme. (Read the
        estimates, not the per-event-time analytic intervals: with cohorts of one
        authority those are not valid; the study below tests the pre-period
        coefficients by re-assigning the cohorts instead.)
        """,
    ),
    (
        "code",
        """
        cla_res = multi["cla_rate_per_10000"]
        cla_res.aggregate("dynamic").to_frame()[["term", "estimate"]].T
        """,
    ),
    (
        "code",
        """
        cla_res.plot();
        """,
    ),
    (
        "md",
        """
        ## 4. The study file and its verdict

        `studies/family_safeguarding.toml` writes the whole evaluation down: the two
        files joined on the authority code (`[[data.join]]`), the adopters from the
        programmes table, the Callaway-Sant'Anna and TWFE analyses of the three
        outcomes, and a placebo in time (round-2 and SFPC adoptions moved three years
        earlier). `impact run` adds a verdict that weighs every estimate against the
        diagnostics (pre-trends, the placebo, selection of adopters on the outcome) and
        the design's power against a 10% fall in the CLA rate, the primary outcome.
        """,
    ),
    (
        "code",
        """
        import tempfile
        from pathlib import Path

        from impact.data.paths import repo_root
        from impact.study import run_study

        os.environ.setdefault("IMPACT_REFERENCE_DATA", str(DATA))
        # the study's files go to a temporary folder, removed when the cell ends;
        # run.results keeps everything the cells below read
        with tempfile.TemporaryDirectory(prefix="impact-fs-") as work, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = run_study(repo_root() / "studies" / "family_safeguarding.toml", out=Path(work) / "fs")
        verdict = run.results["verdict"]
        print(verdict["conclusion"].upper())
        print(*(f"- {r}" for r in verdict["reasons"]), sep="\\n")
        """,
    ),
    (
        "code",
        """
        pd.DataFrame(run.results["analyses"]["twfe_three_outcomes"]["outcomes"])
        """,
    ),
    (
        "md",
        """
        ## What this does and does not show

        - The adopters' CLA rates were not on the same path as other authorities'
          before they adopted (the pre-trend test fails), so the verdict is
          *unreliable*: the post-adoption differences cannot be read as the
          programme's effect, whatever their p-values.
        - The design itself is weak for a 10% effect: with eleven adopters, two of them
          alone in their cohort, the power against a 10% fall in CLA is about one in
          three. A null result would not have shown the programme does nothing.
        - The TWFE estimate for child protection plans survives both adjustments for
          testing three outcomes; the Callaway-Sant'Anna one does not. A difference
          between estimators on the same data is a reason to look at who drives it
          (Hertfordshire alone is its own cohort), not to pick the more significant.
        - The authorities with holes (Hackney, Hampshire, Cornwall, County Durham,
          Oldham) were kept; a balanced-panel analysis would have dropped them
          silently in most software.
        """,
    ),
]
