"""Imports point down (issue 13): no import circle through the result classes.

The graph is read from the source (every ``import`` statement, including the ones inside
functions, except ``if TYPE_CHECKING:`` blocks); a module that imports a package's
submodule depends on that submodule. Strongly connected components with more than one
module are import circles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import impact

ROOT = Path(impact.__file__).resolve().parent


def _graph() -> dict[str, set[str]]:
    mods: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts)
        mods[name.removesuffix(".__init__")] = path
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text())
        skip: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skip.update(id(n) for n in ast.walk(node))
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    targets.append(sub if sub in mods else node.module)
            edges[mod].update(t for t in targets if t in mods and t != mod)
    return edges


def _circles(edges: dict[str, set[str]]) -> list[set[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_through_results_estimators_or_inference():
    edges = _graph()
    guarded = {
        "impact.results",
        "impact.did.results",
        "impact.did.api",
        "impact.did.bacon",
        "impact.did.linear",
        "impact.power",
        "impact.matching.results",
    }
    for comp in _circles(edges):
        assert not comp & guarded, sorted(comp)
        assert not any(m.startswith("impact.inference") for m in comp), sorted(comp)


def test_inference_and_results_do_not_import_upwards():
    edges = _graph()
    for mod, targets in edges.items():
        if mod.startswith("impact.inference"):
            assert not any(t.startswith("impact.did") for t in targets), (mod, targets)
    assert not any(t.startswith("impact.power") for t in edges["impact.results"])
    for mod in ("impact.did.results", "impact.did.bacon", "impact.did.linear"):
        assert "impact.did.api" not in edges[mod], mod


def test_design_and_placebo_still_work_through_the_hooks():
    from impact.data import generate_la_panel

    df = generate_la_panel(n_units=60, seed=3, assignment="staggered", n_treated=24)
    res = impact.did(
        df,
        outcome="cla_rate",
        unit="la_code",
        time="year",
        cohort="cohort",
        method="cs",
        inference="analytic",
    )
    assert res.design() is not None
    placebo = res.placebo_in_time(1)
    # Reference by cell means: each cohort g pretends to adopt at g - 1, so its one
    # placebo cell is mean_g(Y_{g-1} - Y_{g-2}) - mean_never(Y_{g-1} - Y_{g-2}),
    # averaged over cohorts weighted by size (CS simple aggregation)
    W = df.pivot(index="la_code", columns="year", values="cla_rate")
    coh = df.groupby("la_code")["cohort"].first()
    never = coh.index[coh == 0]
    num = den = 0.0
    for g in sorted(set(coh) - {0}):
        grp = coh.index[coh == g]
        diff = W[g - 1] - W[g - 2]
        num += len(grp) * (diff[grp].mean() - diff[never].mean())
        den += len(grp)
    assert len(set(coh) - {0}) == 4
    assert placebo.estimate == pytest.approx(num / den, abs=1e-10)
