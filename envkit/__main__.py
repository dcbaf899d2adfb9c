"""``python -m envkit``."""

from __future__ import annotations

import sys

from envkit.cli import main

sys.exit(main())
