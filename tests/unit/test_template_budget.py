"""Templates cannot hang validate or exhaust memory: loops, ranges, calls and sizes are
bounded, and going over is a located ``template-too-expensive`` error."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from envkit.errors import StackError
from envkit.stackfile import templatebudget
from envkit.stackfile.document import parse
from envkit.stackfile.render import render


@pytest.fixture(autouse=True)
def quick_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1 s wall-clock budget, so the tests that hit it (not the step budget) are quick."""
    monkeypatch.setattr(templatebudget, "MAX_SECONDS", 1.0)


def outcome(tmp_path: Path, template: str) -> object:
    """The rendered image, or the first diagnostic as (code, line, col, message)."""
    quoted = template.replace("'", "''")
    text = f"""\
    stack: s
    environments: {{dev: {{}}}}
    services:
      a:
        image: '{quoted}'
    """
    doc = parse(textwrap.dedent(text), path=tmp_path / "envkit.yaml", display="envkit.yaml")
    try:
        return render(doc, "dev", environ={}).tree["services"]["a"]["image"]
    except StackError as exc:
        diag = exc.diagnostics[0]
        assert diag.origin is not None
        return (diag.code, diag.origin.line, diag.origin.col, diag.message)


HOSTILE = [
    # the hang from the issue: nested loops over the largest range Jinja allowed
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    # within range() bounds, but 10^12 steps
    "{% for i in range(10000) %}{% for j in range(10000) %}{% for k in range(10000) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}",
    # exponential recursion without any loop
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    # huge strings
    "{{ 'x' * 10**9 }}",
    "{{ '%s' * 10**9 }}",
    "{{ ('x' * 999999) * 999999 }}",
    "{{ '%1000000000s' % 'x' }}",
    "{{ '%*s' % (1000000000, 'x') }}",
    "{{ '{:>1000000000}'.format(1) }}",
    "{{ 'x'.center(1000000000) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ ('x' * 999999).replace('x', 'y' * 999999) }}",
    "{{ ('x' * 999999) | replace('x', 'y' * 999999) }}",
    "{{ range(9999) | join('x' * 999999) }}",
    "{{ 'a' | center(10**9) }}",
    "{{ ('a\\n' * 400000) | indent(1000) }}",
    "{{ '%s' | format('x' * 999999) ~ ('x' * 999999) }}",
    "{{ (['x' * 999999] * 999999) | join }}",
    "{{ (10 ** 1000) ** 1000 }}",
    "{% set ns = namespace(s='x' * 100000) %}{% for i in range(100) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    "{% set ns = namespace(s=['x'] * 1000) %}{% for i in range(100) %}"
    "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}",
    "{% for i in range(2000) %}{{ 'x' * 1000 }}{% endfor %}",  # 2 MB of output
    # a set block that doubles itself: every buffer join is checked
    "{% set ns = namespace(s='x' * 1000) %}{% for i in range(40) %}"
    "{% set b %}{{ ns.s }}{{ ns.s }}{% endset %}{% set ns.s = b %}{% endfor %}{{ ns.s | length }}",
    "{% macro m(s) %}{{ s }}{{ s }}{% endmacro %}{% set ns = namespace(s='x' * 1000) %}"
    "{% for i in range(40) %}{% set ns.s = m(ns.s) %}{% endfor %}{{ ns.s | length }}",
    "{{ range(10) | slice(10**9) | list | length }}",
    "{{ range(10) | batch(10**9, 'x') | list | length }}",
    "{{ [1, [2]] | tojson(indent=10**9) }}",
    "{{ ('x' * 999999).translate({120: 'y' * 999999}) }}",
    # shared-leaf trees: [a, a] in a loop is 2**n leaves for n cheap steps
    "{% set x = namespace(a=[1]) %}{% for i in range(60) %}{% set x.a = [x.a, x.a] %}"
    "{% endfor %}{{ x.a | string | length }}",
    "{% set x = namespace(a=[1]) %}{% for i in range(60) %}{% set x.a = (x.a, x.a) %}"
    "{% endfor %}{{ x.a ~ '' }}",
    "{% set x = namespace(a={}) %}{% for i in range(60) %}{% set x.a = dict(a=x.a, b=x.a) %}"
    "{% endfor %}{{ x.a | tojson | length }}",
    "{{ ('x' * 500000) | wordwrap(1) | length }}",  # quadratic inside textwrap
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_templates_are_refused_quickly_and_located(tmp_path: Path, template: str) -> None:
    t0 = time.monotonic()
    result = outcome(tmp_path, template)
    elapsed = time.monotonic() - t0
    assert isinstance(result, tuple), result
    code, line, col, _ = result
    assert (code, line, col) == ("template-too-expensive", 5, 12), result
    assert elapsed < 4


def test_list_mutation_is_refused(tmp_path: Path) -> None:
    """The immutable sandbox: a list cannot double itself in place."""
    template = "{% set l = [1] %}{% for i in range(40) %}{{ l.extend(l) }}{% endfor %}"
    result = outcome(tmp_path, template)
    assert isinstance(result, tuple) and result[0] == "template-error"


def test_the_wall_clock_budget_stops_a_slow_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(templatebudget, "MAX_SECONDS", 0.2)
    template = "{% for i in range(10000) %}{% for j in range(90) %}{% endfor %}{% endfor %}"
    result = outcome(tmp_path, template)  # 900,000 steps: within the step budget
    assert isinstance(result, tuple)
    assert result[0] == "template-too-expensive" and "longer than 0.2s" in str(result[3])


NORMAL = [
    ("{{ 'db' ~ '-' ~ 3 }}", "db-3"),
    ("{% for i in range(3) %}{{ i }},{% endfor %}", "0,1,2,"),
    ("{{ range(5) | join('-') }}", "0-1-2-3-4"),
    ("{{ 'a-b' | replace('-', '_') }}", "a_b"),
    ("{{ '%05d' | format(42) }}", "00042"),
    ("{{ '%s:%s' % ('h', 80) }}", "h:80"),
    ("{{ '{}:{:>4}'.format('h', 8) }}", "h:   8"),
    ("{{ 'ab'.center(6) }}", "  ab  "),
    ("{{ 2 ** 10 }}", 1024),
    ("{{ 'x' * 3 + 'y' }}", "xxxy"),
    ("{{ ([1, 2] + [3]) | join(',') }}", "1,2,3"),
    ("{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m('a') }}{{ m('b') }}", "<a><b>"),
    ("{% for k, v in {'a': 1}.items() %}{{ k }}={{ v }}{% endfor %}", "a=1"),
    ("{% for i in [1, 2, 3] if i > 1 %}{{ loop.index }}{{ i }}{% endfor %}", "1223"),
]


@pytest.mark.parametrize(("template", "expected"), NORMAL)
def test_normal_templates_still_work(tmp_path: Path, template: str, expected: object) -> None:
    assert outcome(tmp_path, template) == expected


def test_a_large_but_allowed_value_renders(tmp_path: Path) -> None:
    assert outcome(tmp_path, "{{ ('x' * 999999) | length }}") == 999999
    assert outcome(tmp_path, "{% for i in range(10000) %}{% endfor %}done") == "done"


@pytest.mark.parametrize(
    "template", ["{{ " + "1" * 5000 + " }}", "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"]
)
def test_unparsable_literals_and_nesting_are_located_errors(tmp_path: Path, template: str) -> None:
    result = outcome(tmp_path, template)
    assert isinstance(result, tuple) and result[:3] == ("template-error", 5, 12), result
    assert len(str(result[3])) < 300


def test_an_exhausted_budget_is_reported_once(tmp_path: Path) -> None:
    loop = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    text = f"""\
    stack: s
    environments: {{dev: {{}}}}
    services:
      a: {{image: '{loop}'}}
      b: {{image: '{{{{ "busybox" }}}}'}}
    """
    doc = parse(textwrap.dedent(text), path=tmp_path / "envkit.yaml", display="envkit.yaml")
    with pytest.raises(StackError) as info:
        render(doc, "dev", environ={})
    assert [d.code for d in info.value.diagnostics] == ["template-too-expensive"]
    assert info.value.diagnostics[0].path == ("services", "a", "image")


def test_time_outside_templates_does_not_count() -> None:
    budget = templatebudget.Budget(seconds=0.05)
    time.sleep(0.1)  # e.g. reading env files between two templates
    budget.start()
    budget.spend()
    budget.stop()
    assert not budget.exhausted


def test_lipsum_is_not_available(tmp_path: Path) -> None:
    """lipsum(10**9) loops inside Jinja where no budget sees it: the global is gone."""
    result = outcome(tmp_path, "{{ lipsum(10**9) }}")
    assert isinstance(result, tuple) and result[0] == "undefined-variable"


def test_blocks_and_macros_of_normal_size_still_work(tmp_path: Path) -> None:
    template = (
        "{% macro m(s) %}<{{ s }}>{% endmacro %}{% set b %}{{ m('a') }}{{ m('b') }}{% endset %}"
        "{{ b }}|{{ range(6) | slice(2) | list | length }}|{{ range(5) | batch(2, 0) | list"
        " | length }}|{{ {'a': 1} | tojson }}|{{ 'abc'.translate({97: 'x'}) }}"
    )
    assert outcome(tmp_path, template) == '<a><b>|2|3|{"a": 1}|xbc'
