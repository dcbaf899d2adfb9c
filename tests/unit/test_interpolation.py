"""Compose interpolation of one string: compose-go's template tests as a table, the
differences from docker-compose 1.29.2, exact messages, and a property test against a
literal transcription of compose-go's algorithm (regex + brace counting + recursion)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envkit.errors import Origin
from envkit.stackfile.interpolation import (
    MAX_NESTING,
    InterpolationError,
    Problem,
    VariableUse,
    interpolate,
    interpolate_recording,
)

# compose-go template_test.go's mapping
ENV = {"FOO": "first", "BAR": "", "JSON": '{"json":2}', "\u017f": "long s", "\u212a": "kelvin"}

# (template, expected) — compose-go's template_test.go, case by case
COMPOSE_GO_OK = [
    ("$${foo}", "${foo}"),  # TestEscaped
    ("foo", "foo"),  # TestSubstituteNoMatch
    ("a $ string", "a $ string"),  # TestUnescaped
    ("^REGEX$", "^REGEX$"),
    ("$}", "$}"),
    ("$", "$"),
    ("$FOO-bar", "first-bar"),  # TestNonBraced (docker/compose#8601)
    ("This ${missing} var", "This  var"),  # TestNoValueNoDefault
    ("This ${BAR} var", "This  var"),
    ("This $FOO var", "This first var"),  # TestValueNoDefault
    ("This ${FOO} var", "This first var"),
    ("ok ${missing:-def}", "ok def"),  # TestNoValueWithDefault
    ("ok ${missing-def}", "ok def"),
    ("${A:+${A},}B", "B"),  # TestLazyDefaultDoesNotWarn
    ("${A:-${B}}", ""),  # TestLazyDefaultWarnsWhenUsed
    ("ok ${BAR:-def}", "ok def"),  # TestEmptyValueWithSoftDefault
    ("ok ${FOO:-def}", "ok first"),  # TestValueWithSoftDefault
    ("ok ${BAR-def}", "ok "),  # TestEmptyValueWithHardDefault
    ("ok ${UNSET_VAR:+presence_value}", "ok "),  # TestPresentValueWithUnset
    ("ok ${UNSET_VAR+presence_value}", "ok "),
    ("ok ${FOO:+presence_value}", "ok presence_value"),  # TestPresentValueWithNonEmpty
    ("ok ${FOO+presence_value}", "ok presence_value"),
    ("ok ${BAR+presence_value}", "ok presence_value"),  # TestPresentValueWithSet
    ("ok ${BAR:+presence_value}", "ok "),
    ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),  # TestNonAlphanumericDefault
    # TestInterpolationExternalInterference
    ("-ok ${BAR:-defaultValue}", "-ok defaultValue"),
    ("+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
    ("-ok ${FOO:-defaultValue}", "-ok first"),
    (":-ok ${UNSET-defaultValue}", ":-ok defaultValue"),
    (":-ok ${BAR-defaultValue}", ":-ok "),
    (":?ok ${BAR-defaultValue}", ":?ok "),
    (":?ok ${BAR:-defaultValue}", ":?ok defaultValue"),
    (":+ok ${BAR:-defaultValue}", ":+ok defaultValue"),
    ("+ok ${BAR-defaultValue}", "+ok "),
    ("?ok ${BAR:-defaultValue}", "?ok defaultValue"),
    # TestDefaultsWithNestedExpansion
    ("ok ${UNSET_VAR-$FOO}", "ok first"),
    ("ok ${UNSET_VAR-${FOO}}", "ok first"),
    ("ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
    ("ok ${BAR:-$FOO}", "ok first"),
    ("ok ${BAR:-${FOO}}", "ok first"),
    ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
    ("ok ${BAR+$FOO}", "ok first"),
    ("ok ${BAR+$FOO ${FOO:+second}}", "ok first second"),
    # TestDefaultsForMandatoryVariables
    ("ok ${FOO:?err}", "ok first"),
    ("ok ${FOO?err}", "ok first"),
    ("ok ${BAR?err}", "ok "),
    # TestPrecedence
    ("${UNSET_VAR-myerror?msg}", "myerror?msg"),
    ("${FOO?bar-baz}", "first"),
    ("${BAR:-default_value_for_empty_var}", "default_value_for_empty_var"),
    ("${UNSET_VAR-default_value_for_unset_var}", "default_value_for_unset_var"),
    ("ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first"),  # TestSubstituteWithReplacementFunc
    # TestNoValueWithCurlyBracesDefault / TestValueWithCurlyBracesDefault
    ('ok ${missing:-{"json":1}}', 'ok {"json":1}'),
    ('ok ${missing-{"json":1}}', 'ok {"json":1}'),
    ('ok ${JSON:-{"json":1}}', 'ok {"json":2}'),
    ('ok ${JSON-{"json":1}}', 'ok {"json":2}'),
]

MORE_OK = [
    ("${A:-${B:-x}}", "x"),  # the brief's nesting example
    ("${FOO:-${B:-x}}", "first"),
    ("$$FOO", "$FOO"),
    ("$$$FOO", "$first"),
    ("$$$$", "$$"),
    ("$ {", "$ {"),  # the spec: any other "$" is preserved (1.29.2 refuses it)
    ("$1 and $-x", "$1 and $-x"),
    ("price: 5$", "price: 5$"),
    ("$FOO$FOO", "firstfirst"),
    ("${FOO}${FOO}", "firstfirst"),
    ("$foo_1X", ""),  # names are case-sensitive and take digits after the first
    ("${FOO:-a}b}", "firstb}"),
    ("${UNSET:-a}b}", "ab}"),
    ("${UNSET:-a}\n${FOO:-b}", "a\nfirst"),  # the argument never crosses a line end
    ("${UNSET-}", ""),
    ("${FOO:+}", ""),
    ("x${UNSET:-{}}y", "x{}y"),
    ("${UNSET:-{x}", "{x"),  # unbalanced: the argument runs to the line's last "}"
    ("$FOO:-x", "first:-x"),
    ("${UNSET?}${FOO}", None),  # None: an error, see below
    ("$\u017f|${\u212a}", "long s|kelvin"),  # Go's (?i)[a-z] folds these two in
    ("$\u0130 $\u0131", "$\u0130 $\u0131"),  # but not these (Python's re would)
]


@pytest.mark.parametrize(("template", "expected"), COMPOSE_GO_OK + MORE_OK)
def test_interpolates(template: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InterpolationError):
            interpolate(template, ENV)
    else:
        assert interpolate(template, ENV) == expected


# (template, variable, message) — compose-go's TestMandatoryVariableErrors and
# TestMandatoryVariableErrorsWithNestedExpansion, with compose-go's messages
REQUIRED = [
    (
        "not ok ${UNSET_VAR:?Mandatory Variable Unset}",
        "UNSET_VAR",
        "required variable UNSET_VAR is missing a value: Mandatory Variable Unset",
    ),
    (
        "not ok ${BAR:?Mandatory Variable Empty}",
        "BAR",
        "required variable BAR is missing a value: Mandatory Variable Empty",
    ),
    ("not ok ${UNSET_VAR:?}", "UNSET_VAR", "required variable UNSET_VAR is missing a value"),
    (
        "not ok ${UNSET_VAR?Mandatory Variable Unset}",
        "UNSET_VAR",
        "required variable UNSET_VAR is missing a value: Mandatory Variable Unset",
    ),
    ("not ok ${UNSET_VAR?}", "UNSET_VAR", "required variable UNSET_VAR is missing a value"),
    (
        "not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}",
        "UNSET_VAR",
        "required variable UNSET_VAR is missing a value: Mandatory Variable first",
    ),
    (
        "not ok ${UNSET_VAR?Mandatory Variable ${FOO}}",
        "UNSET_VAR",
        "required variable UNSET_VAR is missing a value: Mandatory Variable first",
    ),
    (
        "${UNSET_VAR?bar-baz}",
        "UNSET_VAR",
        "required variable UNSET_VAR is missing a value: bar-baz",
    ),
    # the message's own variables are interpolated first: its error comes out
    ("${A:?${B:?inner}}", "B", "required variable B is missing a value: inner"),
]


@pytest.mark.parametrize(("template", "variable", "message"), REQUIRED)
def test_required_variables(template: str, variable: str, message: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate(template, ENV)
    err = caught.value
    assert err.problem is Problem.MISSING_REQUIRED
    assert err.code == "missing-required-variable"
    assert err.variable == variable
    assert err.message == message
    assert err.text == template
    assert err.hint == f"set {variable} in the environment or in the .env file"
    assert err.exit_code == 2


# (template, offset of the offending "$", message) — compose-go's TestInvalid and the brief's
INVALID = [
    ("${", 0, "invalid interpolation format: '${'"),
    ("${}", 0, "invalid interpolation format: '${}'"),
    ("${ }", 0, "invalid interpolation format: '${ }'"),
    ("${ foo}", 0, "invalid interpolation format: '${ foo}'"),
    ("${foo }", 0, "invalid interpolation format: '${foo }'"),
    ("${foo!}", 0, "invalid interpolation format: '${foo!}'"),
    ("${VAR", 0, "invalid interpolation format: '${VAR'"),
    ("${VAR:x}", 0, "invalid interpolation format: '${VAR:x}'"),
    ("${VAR:-x", 0, "invalid interpolation format: '${VAR:-x'"),
    ("ok $FOO ${1}", 8, "invalid interpolation format: '${1}'"),
    ("a\n${VAR:-x\n}", 2, "invalid interpolation format: '${VAR:-x'"),
    ("${UNSET:-${}", 9, "invalid interpolation format: '${}'"),
    ("${A/foo/bar}", 0, "invalid interpolation format: '${A/foo/bar}'"),  # spec: unsupported
]


@pytest.mark.parametrize(("template", "offset", "message"), INVALID)
def test_invalid_interpolation(template: str, offset: int, message: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate(template, ENV)
    err = caught.value
    assert (err.problem, err.offset, err.message, err.variable) == (
        Problem.INVALID,
        offset,
        message,
        None,
    )
    assert err.hint is not None and "$$" in err.hint


def test_long_offending_text_is_cut() -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate("${" + "x" * 100, {})
    assert caught.value.message == "invalid interpolation format: '${" + "x" * 55 + "...'"


def test_nesting_is_bounded() -> None:
    deep = "${A:-" * (MAX_NESTING + 1) + "x" + "}" * (MAX_NESTING + 1)
    with pytest.raises(InterpolationError) as caught:
        interpolate(deep, {})
    assert caught.value.problem is Problem.TOO_DEEP
    ok = "${A:-" * MAX_NESTING + "x" + "}" * MAX_NESTING
    assert interpolate(ok, {}) == "x"


def test_many_variables_on_one_line_is_linear_enough() -> None:
    # compose-go recurses once per "${A:-a}" on a line; this must neither recurse nor crawl
    line = "${A:-a}" * 20_000
    assert interpolate(line, {}) == "a" * 20_000


def test_records_every_lookup_lazily() -> None:
    result, uses = interpolate_recording("$FOO ${NOPE} ${BAR:-${X}} ${FOO:+${Y}}", ENV)
    assert result == "first  " + " "
    assert uses == (
        VariableUse("FOO", "first", bare=True),
        VariableUse("NOPE", None, bare=True),
        VariableUse("BAR", "", bare=False),
        VariableUse("X", None, bare=True),
        VariableUse("FOO", "first", bare=False),
        VariableUse("Y", None, bare=True),
    )
    # an unused default is never evaluated, so its variables are not looked up
    assert interpolate_recording("${FOO:-$X}", ENV)[1] == (VariableUse("FOO", "first", False),)


def test_diagnostic_carries_location() -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate("${PW:?set a password}", {})
    diag = caught.value.diagnostic(("services", "db", "environment", 0), Origin("c.yaml", 3, 9))
    assert diag.render() == (
        "c.yaml:3:9: error[missing-required-variable]: services.db.environment[0]: "
        "required variable PW is missing a value: set a password\n"
        "  hint: set PW in the environment or in the .env file"
    )


# --- property: the same results as a literal transcription of compose-go ----------------

_GO_PATTERN = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|"
    r"\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}|(?P<invalid>)))"
)


class _GoError(Exception):
    def __init__(self, kind: str, variable: str | None = None, reason: str = "") -> None:
        super().__init__(kind)
        self.kind, self.variable, self.reason = kind, variable, reason


def _go_substitute(template: str, mapping: Mapping[str, str]) -> str:
    """template.Substitute: ReplaceAllStringFunc, keeping the first error."""
    errors: list[_GoError] = []

    def replace(match: re.Match[str]) -> str:
        try:
            return _go_replace(match.group(0), mapping)
        except _GoError as exc:
            errors.append(exc)
            return ""

    result = _GO_PATTERN.sub(replace, template)
    if errors:
        raise errors[0]
    return result


def _go_closing(s: str) -> int:
    depth, i = 0, 0
    while i < len(s):
        if s[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        if s[i] == "{":
            depth += 1
            i += 1
        i += 1
    return -1


def _go_replace(substring: str, mapping: Mapping[str, str]) -> str:
    """DefaultReplacementAppliedFunc with getSubstitutionFunctionForTemplate."""
    found = [(substring.find(op), op) for op in (":?", "?", ":-", "-", ":+", "+")]
    found = [f for f in found if f[0] >= 0]
    sep = min(found)[1] if found else None
    closing = _go_closing(substring)
    rest = ""
    if closing > -1:
        rest, substring = substring[closing + 1 :], substring[: closing + 1]
    match = _GO_PATTERN.search(substring)
    assert match is not None
    if match["escaped"]:
        return "$"
    name, braced = match["named"] or "", False
    if not name:
        name, braced = match["braced"] or "", True
    if not name:
        raise _GoError("invalid")
    if braced and sep is not None and sep in name:
        var, arg = name.split(sep, 1)
        is_set = var in mapping
        value = mapping.get(var, "")
        if sep in (":-", "-"):
            use = (not is_set or value == "") if sep == ":-" else not is_set
            out = _go_substitute(arg, mapping) if use else value
        elif sep in (":+", "+"):
            use = (is_set and value != "") if sep == ":+" else is_set
            out = _go_substitute(arg, mapping) if use else value
        else:
            if not is_set or (sep == ":?" and value == ""):
                raise _GoError("required", var, _go_substitute(arg, mapping))
            out = value
        return out + _go_substitute(rest, mapping)
    return mapping.get(name, "")


def _outcome(fn: object, template: str, mapping: Mapping[str, str]) -> tuple[object, ...]:
    try:
        return ("ok", fn(template, mapping))  # type: ignore[operator]
    except InterpolationError as exc:
        kind = "invalid" if exc.problem is Problem.INVALID else "required"
        return (kind, exc.variable, exc.reason)
    except _GoError as exc:
        return (exc.kind, exc.variable, exc.reason)


_PIECES = st.sampled_from(
    ["$", "$$", "${", "}", "{", ":", "-", "+", "?", "A", "B", "_", "x", " ", "\n", "1", "é"]
    + [f"${{{name}{op}" for name in ("A", "B", "C") for op in (":-", "-", ":+", "+", ":?", "?")]
    + ["}"] * 12  # as many closings as openings, so that most templates are well formed
    + ["$A", "${B}", "${C}"]
)
_TEMPLATES = st.lists(_PIECES, max_size=24).map("".join)
_MAPPINGS = st.dictionaries(st.sampled_from(["A", "B", "_"]), st.sampled_from(["", "v", "$A", "}"]))


@settings(max_examples=3000, deadline=None)
@given(_TEMPLATES, _MAPPINGS)
def test_same_as_compose_go(template: str, mapping: dict[str, str]) -> None:
    assert _outcome(interpolate, template, mapping) == _outcome(_go_substitute, template, mapping)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60), _MAPPINGS)
def test_never_raises_anything_but_interpolation_error(
    template: str, mapping: dict[str, str]
) -> None:
    try:
        result = interpolate(template, mapping)
    except InterpolationError as exc:
        assert 0 <= exc.offset < len(template) and template[exc.offset] == "$"
    else:
        assert isinstance(result, str)
        if "$" not in template:
            assert result == template
