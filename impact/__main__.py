"""``python -m impact``: the same as the ``impact`` command."""

from __future__ import annotations

import sys

from impact.cli import main

if __name__ == "__main__":
    sys.exit(main())
