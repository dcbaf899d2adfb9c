"""Every number in a stack file either validates into a value the engine accepts, or is a
located error (exit 2): never NaN, infinity, an overflow, or an internal error.

``cpus: .nan``, ``mem_limit: 99999999999999999999999g`` and ``stop_grace_period:
99999999999999999999h`` used to pass validate and plan, and ``up`` then removed the running
container and failed."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envkit import limits
from envkit.errors import StackError
from envkit.model import ServiceSpec
from envkit.stackfile.pipeline import read, resolve

FIELDS = {
    "cpus": "cpus: {v}",
    "mem_limit": "mem_limit: {v}",
    "stop_grace_period": "stop_grace_period: {v}",
    "replicas": "replicas: {v}",
    "retries": "healthcheck: {{test: [CMD, x], retries: {v}}}",
    "interval": "healthcheck: {{test: [CMD, x], interval: {v}}}",
    "timeout": "healthcheck: {{test: [CMD, x], timeout: {v}}}",
    "port": "ports: [{v}]",
    "published": "ports: ['{v}:80']",
    "target": "ports: [{{target: {v}}}]",
    "restart": "restart: on-failure:{v}",
    "template": "cpus: '{{{{ {v} }}}}'",
    "tmpfs": "tmpfs: ['/run:size={v}']",
    "tmpfs_mode": "tmpfs: ['/run:mode={v}']",
}


def outcome(tmp_path: Path, line: str) -> ServiceSpec | StackError:
    path = tmp_path / "envkit.yaml"
    path.write_text(
        "stack: s\nenvironments: {dev: {}}\nservices:\n  a:\n    image: busybox\n    " + line + "\n"
    )
    try:
        return resolve(read(path), "dev", environ={}).desired.services[0]
    except StackError as exc:
        return exc


def engine_accepts(spec: ServiceSpec) -> None:
    """What the engine checks at create (daemon/daemon_unix.go, api types), and that the
    adapter's conversions (int64 nanoseconds, int cpus) cannot overflow."""
    int64 = 2**63 - 1
    if spec.cpus is not None:
        assert math.isfinite(spec.cpus) and limits.MIN_CPUS <= spec.cpus <= limits.MAX_CPUS
        assert 10**7 <= int(spec.cpus * 1e9) <= int64
    if spec.mem_limit is not None:
        assert spec.mem_limit == 0 or limits.MIN_MEM_LIMIT <= spec.mem_limit <= int64
    if spec.stop_grace_period_s is not None:
        assert math.isfinite(spec.stop_grace_period_s)
        assert 0 <= round(spec.stop_grace_period_s) * 10**9 <= int64
    assert 0 <= spec.replicas <= limits.MAX_REPLICAS
    hc = spec.healthcheck
    if hc is not None:
        for seconds in (hc.interval_s, hc.timeout_s, hc.start_period_s):
            if seconds is not None:
                assert math.isfinite(seconds)
                ns = int(seconds * 1e9)
                assert ns == 0 or 10**6 <= ns <= int64
        assert hc.retries is None or 0 <= hc.retries <= 2**31 - 1
    for port in spec.ports:
        assert 1 <= port.target <= 65535
        assert port.published is None or 1 <= port.published <= 65535
    _, _, count = spec.restart.partition(":")
    assert not count or 0 <= int(count) <= 2**31 - 1
    for entry in spec.tmpfs:  # what the engine's RAMInBytes and ParseUint(mode, 8) take
        for option in entry.partition(":")[2].split(","):
            key, _, value = option.partition("=")
            if key == "size":
                number = re.fullmatch(r"(\d+(?:\.\d+)?) ?([kmgtp])?i?b?", value, re.I)
                assert number is not None
                unit = 1024 ** " kmgtp".index((number.group(2) or " ").lower())
                assert float(number.group(1)) * unit <= int64
            elif key == "mode":
                assert 0 <= int(value, 8) <= 0xFFFFFFFF


def check(tmp_path: Path, line: str) -> None:
    result = outcome(tmp_path, line)
    if isinstance(result, StackError):
        assert result.exit_code == 2
        for diag in result.diagnostics:
            assert diag.origin is not None and diag.origin.line == 6, diag
            assert diag.code != "internal"
        assert len(result.render()) < 2000  # a huge value is never echoed whole
    else:
        engine_accepts(result)


NUMBER_TEXT = st.one_of(
    st.integers().map(str),
    st.builds(lambda d, n: d * n, st.sampled_from("123456789"), st.integers(1, 6000)),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from([".nan", ".inf", "-.inf", ".NaN", "1e999", "-0", "0x7fffffffffffffff"]),
    st.from_regex(r"\A[0-9]{1,30}(\.[0-9]{1,5})?(ns|us|ms|s|m|h|b|k|m|g|t)?\Z"),
    st.from_regex(r"\A[0-9]{1,25}h[0-9]{1,25}m\Z"),
    st.text(alphabet="0123456789.-+eE", min_size=1, max_size=40),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(field=st.sampled_from(sorted(FIELDS)), text=NUMBER_TEXT)
def test_any_number_validates_into_engine_bounds_or_is_a_located_error(
    tmp_path: Path, field: str, text: str
) -> None:
    quoted = ("published", "restart", "template", "tmpfs", "tmpfs_mode")
    value = text if field not in quoted else text.strip("'")
    check(tmp_path, FIELDS[field].format(v=value))


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("cpus: .nan", "invalid-number"),
        ("cpus: .inf", "invalid-value"),
        ("mem_limit: 99999999999999999999999g", "invalid-size"),
        ("mem_limit: 1k", "invalid-size"),
        ("stop_grace_period: 99999999999999999999h", "invalid-duration"),
        ("replicas: " + "9" * 5000, "number-too-large"),
        ("replicas: 1001", "invalid-value"),
        ("healthcheck: {test: [CMD, x], interval: 10us}", "invalid-duration"),
        ("healthcheck: {test: [CMD, x], retries: 2147483648}", "invalid-value"),
        ("restart: on-failure:2147483648", "invalid-restart"),
        ("ports: ['" + "9" * 50 + ":80']", "invalid-port"),
        ("ports: [{target: 70000}]", "invalid-value"),
        ("environment: {A: " + "9" * 5000 + "}", "number-too-large"),
        ("tmpfs: ['/run:size=99999999999999999999g']", "invalid-volume"),
        ("tmpfs: ['/run:size=lots']", "invalid-volume"),
        ("tmpfs: ['/run:mode=999']", "invalid-volume"),
    ],
)
def test_the_reported_values_are_located_errors(tmp_path: Path, line: str, code: str) -> None:
    result = outcome(tmp_path, line)
    assert isinstance(result, StackError), result
    assert result.exit_code == 2 and result.diagnostics[0].code == code
    assert result.diagnostics[0].origin is not None
    check(tmp_path, line)


@pytest.mark.parametrize(
    "line",
    [
        "cpus: 0.01",
        "cpus: 1024",
        "mem_limit: 6m",
        "mem_limit: 0",
        "mem_limit: 8388607t",
        f"stop_grace_period: {limits.MAX_DURATION_S}s",
        "replicas: 1000",
        "healthcheck: {test: [CMD, x], interval: 1ms, timeout: 0s, retries: 2147483647}",
        "restart: on-failure:2147483647",
        "ports: ['65535:1']",
        "tmpfs: ['/run:size=64m,mode=1777,noexec', '/cache:size=1.5GiB', /plain]",
    ],
)
def test_the_bounds_themselves_are_accepted(tmp_path: Path, line: str) -> None:
    result = outcome(tmp_path, line)
    assert isinstance(result, ServiceSpec), result
    engine_accepts(result)


def test_the_schema_and_the_readme_state_the_same_bounds() -> None:
    root = Path(__file__).resolve().parents[2]
    schema: dict[str, Any] = json.loads((root / "schemas" / "stack.schema.json").read_text())
    defs = schema["$defs"]
    service = defs["service"]["properties"]
    assert defs["replicas"]["anyOf"][0]["maximum"] == limits.MAX_REPLICAS
    assert defs["retries"]["anyOf"][0]["maximum"] == limits.MAX_RETRIES
    assert defs["port_number"]["anyOf"][0]["maximum"] == limits.MAX_PORT
    cpus = service["cpus"]["anyOf"][0]
    assert (cpus["minimum"], cpus["maximum"]) == (limits.MIN_CPUS, limits.MAX_CPUS)
    assert service["mem_limit"]["anyOf"][0]["maximum"] == limits.MAX_BYTES
    readme = (root / "README.md").read_text()
    section = readme[readme.index("Numeric bounds") :][:1500]
    for number in ("0.01", "1024", "1000", "2147483647", "65535", "6 MiB", "292 years"):
        assert re.search(re.escape(number), section), number
