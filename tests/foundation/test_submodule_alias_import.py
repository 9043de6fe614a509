"""``import impact.did.<module> as m`` (and ``impact.synth.<module>``) works although
``impact.did`` (``impact.synth``) is the function.

Python resolves ``import a.b.c as m`` as ``getattr(getattr(a, "b"), "c")`` (falling back
to ``sys.modules[b.__name__ + ".c"]``). ``impact.did`` is the function ``did``, whose
``__name__`` is ``"did"``, so without help the statement raised ``ImportError: cannot
import name 'cs' from 'did' (unknown location)``. The subpackage sets each submodule it
imports on the function too; the function itself is unchanged.
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


def test_alias_import_of_a_submodule_not_yet_imported():
    out = _fresh(
        """
        import sys
        import impact
        assert "impact.did.cs" not in sys.modules
        assert "impact.did.pretrend_power" not in sys.modules
        import impact.did.cs as cs
        import impact.did.pretrend_power as pp
        assert cs is sys.modules["impact.did.cs"], cs
        assert pp is sys.modules["impact.did.pretrend_power"], pp
        print("ok")
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_alias_import_of_a_submodule_imported_with_impact():
    import impact.did.api as api
    import impact.did.results as results

    assert results is sys.modules["impact.did.results"]
    assert api is sys.modules["impact.did.api"]


def test_impact_did_stays_the_function():
    import inspect

    from impact.did.api import did

    assert impact.did is did
    assert inspect.isfunction(impact.did)
    assert impact.did.__name__ == "did"
    assert "method" in inspect.signature(impact.did).parameters
    # the subpackage's own names are untouched (bacon is the function there)
    from impact.did import bacon

    assert inspect.isfunction(bacon)


def test_synth_alias_import_in_a_fresh_interpreter():
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
