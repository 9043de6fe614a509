"""Data: synthetic local-authority panels and readers for the DfE published tables.

- :func:`generate_la_panel`: synthetic LA x year CLA panels calibrated to England.
- :func:`ar1_panel`: plain AR(1) error panels for simulation studies.
- :func:`read_cla`, :func:`cla_panel`: the DfE children-looked-after tables, harmonised.
- :func:`treatment_cohorts`: a treatment table joined to a panel as a cohort column.
- :func:`load_synthetic`: the committed panels in ``data/synthetic/``.
- :func:`add_cin_cpp`: children in need and child protection plans as extra outcomes.
- :func:`neighbour_pool`: DfE statistical neighbours of treated authorities as a pool.
- :func:`check_la_names`: refuse names that cover several DfE codes.
- :func:`programmes`: real programme participation (who adopted which model when).
"""

from __future__ import annotations

from impact.data.authorities import (
    check_la_names,
    neighbour_pool,
    read_la_reference,
    statistical_neighbours,
)
from impact.data.cin import add_cin_cpp, read_cin_cpp
from impact.data.dfe import cla_panel, harmonised_id, read_cla
from impact.data.paths import load_synthetic, reference_data_dir, synthetic_path
from impact.data.programmes import programmes
from impact.data.synthetic import (
    ar1_panel,
    calibration_statistics,
    generate_la_panel,
    main_synthetic,
)
from impact.data.treatment import (
    read_treatment_table,
    treatment_cohorts,
    validate_treatment_table,
)

__all__ = [
    "add_cin_cpp",
    "check_la_names",
    "neighbour_pool",
    "read_cin_cpp",
    "read_la_reference",
    "statistical_neighbours",
    "ar1_panel",
    "calibration_statistics",
    "cla_panel",
    "generate_la_panel",
    "harmonised_id",
    "load_synthetic",
    "main_synthetic",
    "programmes",
    "read_cla",
    "read_treatment_table",
    "reference_data_dir",
    "synthetic_path",
    "treatment_cohorts",
    "validate_treatment_table",
]
