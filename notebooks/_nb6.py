"""Notebook 6: reproducing a published study from a study file; a robustness run."""

from _nb_common import SETUP

NAME = "06_study_files"

CELLS = [
    (
        "md",
        """
        # 6. Reproducing a published study from a study file, and a robustness run

        An evaluation is more credible when its analysis plan is written down before the
        results are known and anyone can re-run it. In `impact` the plan is a **study
        file**: a small TOML file naming the data, the analyses, optional robustness
        grids, and checks against published values. One command runs it and writes
        `results.json`, `report.md`, `report.html` and the figures:

        ```
        impact run studies/castle.toml --out results/castle
        ```

        Study files are data, never code: nothing in them is executed, and nothing is
        written outside the output folder. This notebook runs the castle-doctrine study
        shipped in `studies/` (Cheng and Hoekstra 2013, as reproduced by the R
        `bacondecomp` vignette and Stata `csdid`), reads its report, and then writes and
        runs a study file of its own with a robustness grid.
        """,
    ),
    ("code", SETUP),
    (
        "code",
        """
        # Parameters
        QUICK = os.environ.get("IMPACT_QUICK", "0") == "1"
        """,
    ),
    (
        "code",
        """
        import json
        import subprocess
        import sys
        import tempfile
        from pathlib import Path

        from IPython.display import Image, Markdown, display

        from impact.data import reference_data_dir
        from impact.data.paths import repo_root
        from impact.study import run_study

        # Study files find the reference data through ${IMPACT_REFERENCE_DATA}.
        os.environ.setdefault("IMPACT_REFERENCE_DATA", str(reference_data_dir()))
        STUDIES = repo_root() / "studies"
        WORK = Path(tempfile.mkdtemp(prefix="impact-study-"))  # outputs go here
        print(sorted(p.name for p in STUDIES.glob("*.toml")))
        """,
    ),
    (
        "md",
        """
        ## The study file

        A `[study]` table describes the study and its source, `[data]` names the file
        and columns, each `[[analysis]]` is one estimator call (every key other than
        `name`, `label` and `estimator` is a keyword argument of the estimator), and
        each `[[check]]` compares a quantity of an analysis's `to_dict()` with a
        published value, within a stated tolerance.
        """,
    ),
    (
        "code",
        """
        spec_text = (STUDIES / "castle.toml").read_text()
        body = spec_text[spec_text.index("[study]"):]
        first_checks = body.split("[[check]]")[:3]  # the analyses and two checks
        print("[[check]]".join(first_checks).rstrip())
        print(f"... ({body.count('[[check]]')} checks in all)")
        """,
    ),
    (
        "md",
        """
        ## Run it

        `impact.study.run_study` is the Python form of `impact run`. The exit code is 0
        when every check passed, 1 when a check failed and 2 for a bad study file or bad
        data.
        """,
    ),
    (
        "code",
        """
        run = run_study(STUDIES / "castle.toml", out=WORK / "castle")
        print("exit code:", run.exit_code)
        assert run.exit_code == 0, "a published value was not reproduced: see the checks"
        print("files written:", sorted(str(p.relative_to(run.out)) for p in run.files))
        checks = pd.DataFrame(run.results["checks"])
        checks[["analysis", "quantity", "expected", "actual", "tolerance", "passed"]]
        """,
    ),
    (
        "md",
        """
        Every published number is reproduced within the rounding of the source: the
        TWFE estimate and the Goodman-Bacon weights of the `bacondecomp` vignette, and
        Stata `csdid`'s event-study estimates and standard errors.

        ## Reading the report

        `report.md` (and the same content in `report.html`) opens with the study's
        **verdict**: one conclusion for the whole study (supported, inconclusive, not
        detectable, unreliable or not supported) and the reasons behind it, weighing the
        range of estimates, the pre-trend tests, any placebo in time, the
        selection-on-the-outcome diagnostic and the design's power (the rules are in
        `impact.study.verdict`):
        """,
    ),
    (
        "code",
        """
        report = (run.out / "report.md").read_text()
        verdict, rest = report.split("## Analyses side by side", 1)
        display(Markdown(verdict))
        """,
    ),
    (
        "md",
        """
        Then the analyses side by side (`impact.compare`, like fixest's `etable`), the
        provenance of the run (data file and its checksum, seed, checksum of the study
        file), the checks, and one section per analysis with its summary, warnings and
        figure:
        """,
    ),
    (
        "code",
        """
        display(Markdown("## Analyses side by side" + rest.split("\\n## ")[0]))
        """,
    ),
    (
        "md",
        """
        Each analysis's figure is in `figures/`. The Callaway-Sant'Anna event study:
        """,
    ),
    (
        "code",
        """
        display(Image(filename=str(run.out / "figures" / "cs.png"), width=600))
        """,
    ),
    (
        "md",
        """
        `results.json` holds everything in machine-readable form: each analysis's
        `to_dict()` (estimate, standard error, CI, warnings, the group-time effects and
        aggregations for DiD), the checks, the robustness grids and the versions of the
        packages used. For example, the event-study rows:
        """,
    ),
    (
        "code",
        """
        results = json.loads((run.out / "results.json").read_text())
        print("top-level keys:", list(results))
        print("versions:", {k: results["versions"][k] for k in ["impact", "numpy", "pandas"]})
        dynamic = pd.DataFrame(results["analyses"]["cs"]["aggregates"]["dynamic"]["table"])
        dynamic[["event_time", "estimate", "std_error", "conf_low", "conf_high"]].round(4)
        """,
    ),
    (
        "md",
        """
        ## A robustness run

        A `[[robustness]]` table re-runs one analysis over a grid of variations and
        summarises how much the estimate moves (a "specification curve"). Below we write
        a new study file for the same data: Callaway-Sant'Anna, varied over the
        comparison group, the base period and anticipation, 8 specifications in all
        (`log_outcome = true` says, as in `castle.toml`, that `l_homicide` is already a
        log, so effects read as approximate proportional changes and no warning asks
        whether it is one). We run it with the command-line tool, as you would in a
        terminal or a CI job.
        """,
    ),
    (
        "code",
        """
        robust_spec = '''
        [study]
        title = "Castle doctrine: how robust is the Callaway-Sant'Anna estimate?"
        source = "Cheng and Hoekstra (2013); data as in studies/castle.toml"
        seed = 1

        [data]
        path = "${IMPACT_REFERENCE_DATA}/castle.csv"
        unit = "state"
        time = "year"
        outcome = "l_homicide"
        cohort = "effyear"

        [[analysis]]
        name = "cs"
        label = "Callaway-Sant'Anna, never-treated comparison"
        estimator = "did"
        log_outcome = true
        method = "cs"

        [[robustness]]
        base = "cs"
        name = "specification grid"
        vary = { control = ["never", "notyet"], base_period = ["varying", "universal"], anticipation = [0, 1] }
        '''
        spec_path = WORK / "castle_robustness.toml"
        spec_path.write_text(robust_spec.lstrip())
        out = WORK / "robustness"
        proc = subprocess.run(
            [sys.executable, "-m", "impact", "run", str(spec_path), "--out", str(out)],
            capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"},
        )
        print("exit status:", proc.returncode)
        print(proc.stdout.replace(str(WORK), "<output folder>").strip())
        print(proc.stderr.replace(str(WORK), "<output folder>").strip()[-2000:])
        """,
    ),
    (
        "code",
        """
        robust = json.loads((out / "results.json").read_text())["robustness"][0]
        print({k: round(v, 4) if isinstance(v, float) else v
               for k, v in robust["summary"].items()})
        variants = pd.DataFrame(robust["variants"])
        settings = pd.DataFrame(list(variants["settings"]))
        pd.concat([settings, variants[["estimate", "se", "ci_low", "ci_high", "pvalue"]]],
                  axis=1).round(4)
        """,
    ),
    (
        "code",
        """
        display(Image(filename=str(out / robust["figure"]), width=650))
        """,
    ),
    (
        "md",
        """
        The comparison group (never vs not-yet treated states) barely matters, and the
        base period only changes the pre-adoption estimates, not the post-adoption
        average: about +11% in log homicide either way, with an interval excluding zero.
        Allowing one year of **anticipation** (comparisons based two years before
        adoption) halves the estimate to about +5%, with an interval that includes zero.
        That belongs in the report: the headline rests on homicide not having moved in
        the year before the laws took effect, and the curve makes the dependence
        visible instead of leaving it to a footnote.

        ## What to conclude, and what not to

        * Write the study file **before** the outcome data are in. Reviewers can then see
          that the headline analysis, the robustness grid and the comparison group were
          not chosen after the fact.
        * Commit the study file, the data's checksum (in the report) and
          `results.json`; anyone with the same data can re-run `impact run` and get the
          same numbers (seeds are recorded).
        * `[[check]]` entries are for published or known values only. A number copied
          from an earlier run of your own is not a check of correctness.
        * The repository's `studies/` folder has more examples: Card and Krueger's
          minimum-wage 2x2, the `mpdta` Callaway-Sant'Anna example, LaLonde's matching
          data, the synthetic Innovation-Programme study (with a power analysis) and the
          SFPC adopters on the real panel (notebook 2's analysis, as a study file).
        """,
    ),
    (
        "code",
        """
        import shutil

        shutil.rmtree(WORK, ignore_errors=True)  # tidy the temporary outputs
        """,
    ),
]
