"""``import impact.synth.<module> as m`` works although ``impact.synth`` is the function.

Python resolves ``import a.b.c as m`` as ``getattr(getattr(a, "b"), "c")`` (falling back
to ``sys.modules[b.__name__ + ".c"]``). ``impact.synth`` is the function ``synth``, whose
``__name__`` is ``"synth"``, so without help ``import impact.synth.api as s`` raised
``ImportError: cannot import name 'api' from 'synth' (unknown location)``. The subpackage
sets each submodule it imports on the function too; the function itself is unchanged.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import impact

ROOT = Path(impact.__file__).resolve().parents[1]


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter (submodules not imported yet)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def test_alias_import_in_a_fresh_interpreter():
    """One new interpreter (importing impact is slow) for both paths: submodules
    imported with ``impact`` (the mirror at load) and ones imported later (the hook)."""
    out = _fresh(
        """
        import sys
        import impact.synth.api as s
        import impact.synth.results as r
        assert s is sys.modules["impact.synth.api"], s
        assert r is sys.modules["impact.synth.results"], r
        assert "impact.synth.sdid_cohorts" not in sys.modules
        assert "impact.synth.conformal" not in sys.modules
        import impact.synth.sdid_cohorts as sc
        import impact.synth.conformal as conf
        assert sc is sys.modules["impact.synth.sdid_cohorts"], sc
        assert conf is sys.modules["impact.synth.conformal"], conf
        print("ok")
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_impact_synth_stays_the_function():
    from impact.synth.api import synth

    assert impact.synth is synth
    assert inspect.isfunction(impact.synth)
    assert impact.synth.__name__ == "synth"
    assert "treated_units" in inspect.signature(impact.synth).parameters
    # the subpackage's own names are untouched
    from impact.synth import simplex_weights
    from impact.synth import synth as synth_again

    assert synth_again is synth
    assert inspect.isfunction(simplex_weights)


def test_no_other_top_level_function_shadows_a_subpackage():
    """Every top-level name that is both a function and a subpackage gets the fix."""
    import pkgutil

    shadowed = sorted(
        m.name
        for m in pkgutil.iter_modules(impact.__path__)
        if m.ispkg and inspect.isfunction(getattr(impact, m.name, None))
    )
    assert shadowed == ["did", "synth"]
