"""Sphinx configuration for the impact documentation site.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (the
``docs`` extra installs what it needs). The evaluator notebooks are rendered from their
committed, executed copies in ``../notebooks`` (copied here at build time, never re-run).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))

import impact  # noqa: E402

project = "impact"
author = "The impact developers"
copyright = "2024-2026, the impact developers"
release = impact.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "sphinx_copybutton",
]

# Notebooks: render the committed outputs; executing them is the test suite's job.
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_typehints = "none"
# Members inherited from the package's private mixins (DiDResult's aggregation and
# diagnostics bases) are documented on the class; those of the public base Result (it
# has its own page) and of third-party bases (pydantic's BaseModel, exceptions) are not.
autodoc_default_options = {
    "members": True,
    "inherited-members": "Result, BaseModel, BaseException, object",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "notebooks/README.md"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

html_theme = "pydata_sphinx_theme"
html_title = f"impact {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False


def _copy_notebooks() -> None:
    """Copy the executed notebooks into the source tree (a git-ignored folder)."""
    target = DOCS / "notebooks"
    target.mkdir(exist_ok=True)
    for old in target.glob("*.ipynb"):
        old.unlink()
    for nb in sorted((REPO / "notebooks").glob("[0-9]*.ipynb")):
        shutil.copy2(nb, target / nb.name)


_copy_notebooks()
