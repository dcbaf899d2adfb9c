"""``python -m envkit``."""

from __future__ import annotations

from envkit.cli.main import console_main

console_main()
