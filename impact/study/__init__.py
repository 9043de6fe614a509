"""Study files: analyses written down as data, run by one command, checked and reported.

Use :func:`run_study` (or the ``impact run`` command) on a TOML study file; see
``DESIGN.md`` ("Study files and the command line") for the format.
"""

from __future__ import annotations

from impact.study.runner import ESTIMATORS, StudyRun, run_study, validate_study
from impact.study.spec import StudySpec, load_spec, parse_spec

__all__ = [
    "ESTIMATORS",
    "StudyRun",
    "StudySpec",
    "load_spec",
    "parse_spec",
    "run_study",
    "validate_study",
]
