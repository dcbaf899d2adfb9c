"""The bounds of every number in a stack file: what the Docker engine accepts, so a value that
validates can always be applied (a value the engine refuses would otherwise surface only in
``up``, after the running container was removed).

The same numbers are in ``schemas/stack.schema.json`` (``maximum``/``minimum``) and in the
README's stack-file reference; ``tests/unit/test_numeric_bounds.py`` checks that all three
agree and that any number either validates into something in these bounds or is a located
error.
"""

from __future__ import annotations

__all__ = [
    "MAX_BYTES",
    "MAX_CPUS",
    "MAX_DURATION_S",
    "MAX_PORT",
    "MAX_REPLICAS",
    "MAX_RETRIES",
    "MIN_CPUS",
    "MIN_HEALTH_DURATION_S",
    "MIN_MEM_LIMIT",
    "MIN_PORT",
]

MIN_CPUS = 0.01  # the engine's NanoCPUs floor (10^7)
MAX_CPUS = 1024.0  # far above any host; the engine also refuses more than the host has
MAX_BYTES = 2**63 - 1  # sizes are int64 bytes in the engine API
MIN_MEM_LIMIT = 6 * 1024**2  # the engine refuses a memory limit under 6 MiB (0 = none)
MAX_DURATION_S = (2**63 - 1) // 10**9  # Go's time.Duration: int64 nanoseconds, ~292 years
MIN_HEALTH_DURATION_S = 0.001  # healthcheck interval/timeout/start_period: 0 or >= 1ms
MAX_REPLICAS = 1000
MAX_RETRIES = 2**31 - 1  # healthcheck retries, on-failure:N
MIN_PORT = 1
MAX_PORT = 65535
