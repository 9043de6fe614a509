"""Cells shared by every notebook (imported by build_notebooks.py's content modules)."""

SETUP = """
%matplotlib inline
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import impact

# Show library warnings as one plain line (no file paths).
warnings.formatwarning = lambda message, category, *args, **kwargs: (
    f"{category.__name__}: {message}\\n"
)
pd.set_option("display.width", 110)
pd.set_option("display.max_columns", 12)
pd.set_option("display.precision", 3)
plt.rcParams.update({"figure.figsize": (8, 4.5), "figure.dpi": 90})
"""

QUICK = """
# Parameters: IMPACT_QUICK=1 (set by the test suite) runs fewer simulations/placebos.
QUICK = os.environ.get("IMPACT_QUICK", "0") == "1"
"""
