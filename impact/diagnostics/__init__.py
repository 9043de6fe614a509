"""Diagnostics shared by the estimators (below them in the import order)."""

from impact.diagnostics.selection import (
    SelectionDiagnostic,
    attach_selection,
    attach_selection_panel,
    selection_diagnostic,
)

__all__ = [
    "SelectionDiagnostic",
    "attach_selection",
    "attach_selection_panel",
    "selection_diagnostic",
]
