"""The ``impact`` command: run and validate study files, generate synthetic data.

Exit status: 0 all well; 1 a ``[[check]]`` failed; 2 a bad spec or bad data (one line on
stderr, no traceback; set ``IMPACT_DEBUG=1`` to see the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

__all__ = ["main"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("impact-evaluation")
    except PackageNotFoundError:  # pragma: no cover - a bare source tree
        return "0+unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="impact",
        description="Evaluate area-level programmes: run study files, check published "
        "values, write reports.",
    )
    parser.add_argument("--version", action="version", version=f"impact {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run a study file and write results and reports")
    run.add_argument(
        "spec",
        help="study file (TOML), or the name of a shipped example study "
        "(innovation_synthetic, random_adoption_synthetic)",
    )
    run.add_argument("--out", help="output folder (default results/<study name>)")
    run.add_argument(
        "--backend",
        choices=["serial", "joblib", "dask"],
        default=None,
        help="how analyses and robustness variants run (default serial, or joblib "
        "with --jobs > 1)",
    )
    run.add_argument("--scheduler", help="dask.distributed scheduler address")
    run.add_argument("--jobs", type=int, default=1, help="parallel workers (default 1)")
    run.add_argument("--seed", type=int, default=None, help="override [study] seed")
    run.add_argument("--quiet", action="store_true", help="print nothing on success")
    val = sub.add_parser("validate", help="check study files without running them")
    val.add_argument("specs", nargs="+", help="study files (TOML)")
    val.add_argument(
        "--no-data", action="store_true", help="do not read the data files"
    )
    rep = sub.add_parser(
        "report", help="re-render report.md and report.html from a run's results.json"
    )
    rep.add_argument("folder", help="output folder of `impact run`")
    rep.add_argument(
        "--format",
        choices=["md", "html", "both"],
        default="both",
        help="which report to write (default both)",
    )
    data = sub.add_parser("data", help="generate data sets")
    data.add_argument("what", choices=["synthetic"], help="which data set")
    data.add_argument("args", nargs=argparse.REMAINDER, help="options of the generator")
    return parser


def _fail(message: str) -> int:
    line = " ".join(str(message).split())
    print(f"impact: error: {line}", file=sys.stderr)
    return 2


def _cmd_run(ns: argparse.Namespace) -> int:
    from impact.study.runner import run_study
    from impact.study.spec import resolve_spec_path

    if ns.jobs == 0 or ns.jobs < -1:
        return _fail(f"--jobs must be a positive integer or -1; got {ns.jobs}")
    if ns.scheduler and ns.backend != "dask":
        return _fail("--scheduler needs --backend dask")
    run = run_study(
        resolve_spec_path(ns.spec),
        out=ns.out,
        backend=ns.backend,
        n_jobs=ns.jobs,
        scheduler=ns.scheduler,
        seed=ns.seed,
    )
    checks = run.results.get("checks", [])
    failed = [c for c in checks if not c["passed"]]
    for c in failed:
        print(
            f"impact: check failed: {c['analysis']} {c['quantity']} = {c['actual']} "
            f"(expected {c['expected']} ± {c['tolerance']}, {c['compare']})"
            + (f": {c['note']}" if c.get("note") else ""),
            file=sys.stderr,
        )
    if not ns.quiet:
        n_ok = len(checks) - len(failed)
        print(_summary_table(run.results))
        print(
            f"{run.results['study']['title']}: {len(run.results['analyses'])} analyses, "
            f"{len(run.results['robustness'])} robustness grids, {n_ok}/{len(checks)} "
            f"checks passed -> {run.out}"
        )
    return run.exit_code


def _number(x: object) -> str:
    return f"{x:.4g}" if isinstance(x, (int, float)) else "."


def _pvalue(x: object) -> str:
    return f"{x:.3f}" if isinstance(x, (int, float)) else "."


def _summary_table(results: dict) -> str:
    """The study's verdict, then a plain-text table of every analysis' estimate."""
    from impact.study.verdict import verdict_parts

    head = f"{'analysis':<22}{'estimator':<18}{'estimate':>10}{'95% CI':>26}{'p':>8}"
    lines = []
    parts = verdict_parts(results.get("verdict"))
    if parts is not None:
        lines.append(f"Verdict: {parts[1]}. {parts[2]}")
    lines += [results["study"]["title"], head, "-" * len(head)]
    for name, a in results["analyses"].items():
        if "error" in a:
            lines.append(f"{name[:21]:<22}{'error':<18}  {a['error'][:60]}")
            continue
        ci = a.get("ci") or [None, None]
        interval = f"[{_number(ci[0])}, {_number(ci[1])}]"
        lines.append(
            f"{name[:21]:<22}{str(a.get('estimator', ''))[:17]:<18}"
            f"{_number(a.get('estimate')):>10}{interval:>26}{_pvalue(a.get('pvalue')):>8}"
        )
        for w in a.get("warnings", [])[:2]:
            lines.append(f"{'':<4}! {w[:100]}")
    return "\n".join(lines)


def _cmd_validate(ns: argparse.Namespace) -> int:
    from pathlib import Path

    from impact.study.data import load_data
    from impact.study.runner import check_columns, validate_study
    from impact.study.spec import load_spec, resolve_data_path

    status = 0
    for path in ns.specs:
        try:
            spec, _ = load_spec(path)
            validate_study(spec, path)
            if not ns.no_data:
                prepared = load_data(
                    spec.data,
                    resolve_data_path(spec, path),
                    base=Path(path).resolve().parent,
                )
                check_columns(spec, prepared, path)
        except ValueError as exc:
            status = _fail(str(exc))
            continue
        print(f"{path}: ok ({len(spec.analysis)} analyses, {len(spec.check)} checks)")
    return status


def _cmd_report(ns: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from impact.study.report import render_html, render_markdown

    folder = Path(ns.folder)
    source = folder / "results.json"
    try:
        results = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _fail(f"{source} not found; give the output folder of `impact run`")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _fail(f"cannot read {source}: {exc}")
    if not isinstance(results, dict) or "analyses" not in results:
        return _fail(f"{source} is not the results.json of `impact run`")
    from impact.errors import SpecError
    from impact.study.output import atomic_write_text

    try:
        if ns.format in {"md", "both"}:
            atomic_write_text(folder / "report.md", render_markdown(results))
        if ns.format in {"html", "both"}:
            atomic_write_text(folder / "report.html", render_html(results, folder))
    except SpecError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write the report in {folder}: {exc.strerror or exc}")
    except (KeyError, TypeError, AttributeError) as exc:  # an edited results.json
        return _fail(
            f"{source} does not have the layout `impact run` writes ({type(exc).__name__}"
            f": {exc}); run the study again to rewrite it"
        )
    print(f"report written to {folder}")
    return 0


def _cmd_data(ns: argparse.Namespace) -> int:
    try:
        from impact.data.synthetic import main_synthetic
    except ImportError:
        return _fail(
            "the synthetic data generator is not available in this installation"
        )
    return int(main_synthetic(list(ns.args)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``impact`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 success, 1 a check failed, 2 bad spec or data.
    """
    parser = _parser()
    ns = parser.parse_args(list(argv) if argv is not None else None)
    if ns.command is None:
        parser.print_usage(sys.stderr)
        return 2
    handlers = {
        "run": _cmd_run,
        "validate": _cmd_validate,
        "report": _cmd_report,
        "data": _cmd_data,
    }
    try:
        return handlers[ns.command](ns)
    except KeyboardInterrupt:
        return _fail("interrupted")
    except ValueError as exc:  # ImpactError and pydantic/TOML problems
        if os.environ.get("IMPACT_DEBUG"):
            traceback.print_exc()
        return _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        if os.environ.get("IMPACT_DEBUG"):
            traceback.print_exc()
        return _fail(f"unexpected {type(exc).__name__}: {exc}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
