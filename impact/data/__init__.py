"""Data: synthetic local-authority panels and readers for the DfE published tables.

- :func:`generate_la_panel`: synthetic LA x year CLA panels calibrated to England.
- :func:`ar1_panel`: plain AR(1) error panels for simulation studies.
- :func:`read_cla`, :func:`cla_panel`: the DfE children-looked-after tables, harmonised.
- :func:`treatment_cohorts`: a treatment table joined to a panel as a cohort column.
- :func:`load_synthetic`: the committed panels in ``data/synthetic/``.
- :func:`programmes`: real programme participation (who adopted which model when).
"""

from __future__ import annotations

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
