"""Env files read with Compose's rules: compose-go's dotenv tests as tables, positions,
errors, and the project environment's precedence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envkit.errors import Origin, StackError
from envkit.stackfile.composeenv import dotenv_environment, parse_compose_env
from envkit.stackfile.envfiles import EnvFileValue


def _values(text: str, lookup: dict[str, str] | None = None) -> dict[str, str]:
    parsed = parse_compose_env(text, ".env", lookup or {})
    return {name: value.value for name, value in parsed.items()}


# compose-go godotenv_test.go TestParsing / TestExpanding / parser_test.go, case by case
PARSING = [
    ("FOO=bar", "FOO", "bar"),
    ("FOO =bar", "FOO", "bar"),
    ("FOO= bar", "FOO", "bar"),
    ('FOO="bar"', "FOO", "bar"),
    ("FOO='bar'", "FOO", "bar"),
    (r'FOO="escaped\"bar"', "FOO", 'escaped"bar'),
    (r'FOO="\"quoted\""', "FOO", '"quoted"'),
    ("FOO=\"'d'\"", "FOO", "'d'"),
    ("OPTION_A: 1", "OPTION_A", "1"),
    ("OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
    ("OPTION_A=1:B", "OPTION_A", "1:B"),
    ("export OPTION_A=2", "OPTION_A", "2"),
    (r"export OPTION_B='\n'", "OPTION_B", r"\n"),
    ("export exportFoo=2", "exportFoo", "2"),
    ("exportFOO=2", "exportFOO", "2"),
    ("export_FOO =2", "export_FOO", "2"),
    ("export.FOO= 2", "export.FOO", "2"),
    ("export\tOPTION_A=2", "OPTION_A", "2"),
    ("  export OPTION_A=2", "OPTION_A", "2"),
    ("\texport OPTION_A=2", "OPTION_A", "2"),
    ('export OPTION_A="export A"', "OPTION_A", "export A"),
    (r'FOO="bar\nbaz"', "FOO", "bar\nbaz"),
    (r"FOO=a\tb", "FOO", r"a\tb"),
    (r'FOO="a\tb"', "FOO", "a\tb"),
    (r'KEY="Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\Z\0123Z"', "KEY", "Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ"),
    ("FOO.BAR=foobar", "FOO.BAR", "foobar"),
    ("FOO=foobar=", "FOO", "foobar="),
    ("FOO=bar ", "FOO", "bar"),
    ("FOO=bar # this is foo", "FOO", "bar"),
    ("FOO=bar #this is foo", "FOO", "bar"),
    ("FOO=bar #", "FOO", "bar"),
    ("FOO=123#not-an-inline-comment", "FOO", "123#not-an-inline-comment"),
    ('FOO="bar#baz"', "FOO", "bar#baz"),
    ('FOO="bar#baz"#', "FOO", "bar#baz"),
    ('FOO="bar#baz" # comment', "FOO", "bar#baz"),
    ("FOO='bar#baz' # comment", "FOO", "bar#baz"),
    ('FOO="bar#baz#bang" # comment', "FOO", "bar#baz#bang"),
    ('FOO="ba#r"', "FOO", "ba#r"),
    ("FOO='ba#r'", "FOO", "ba#r"),
    (r'FOO="bar\n\ b\az"', "FOO", "bar\n\\ b\az"),
    (r'FOO="bar\\\n\ b\az"', "FOO", "bar\\\n\\ b\az"),
    (r'FOO="bar\\r\ b\az"', "FOO", "bar\\r\\ b\az"),
    (r'FOO="bar\nbaz\\"', "FOO", "bar\nbaz\\"),
    ('="value"', "", "value"),
    (" KEY =value", "KEY", "value"),
    ("   KEY=value", "KEY", "value"),
    ("\tKEY=value", "KEY", "value"),
    (r'KEY="\0123"', "KEY", "S"),
    (r'KEY="\x07"', "KEY", r"\x07"),
    (r'KEY="\u12e4"', "KEY", r"\u12e4"),
    (r'KEY="\U00101234"', "KEY", r"\U00101234"),
    (r'KEY="\012 \0 \0400 \c"', "KEY", r"\012 \0 \0400 \c"),  # not Go escapes: kept
    # expanding (TestExpanding)
    ("FOO=test\nBAR=$FOO", "BAR", "test"),
    ("FOO=test\nBAR=${FOO}bar", "BAR", "testbar"),
    ("BAR=$FOO", "BAR", ""),
    ('FOO=test\nBAR="quote $FOO"', "BAR", "quote test"),
    ("BAR='quote $FOO'", "BAR", "quote $FOO"),
    (r'FOO="foo\$BAR"', "FOO", "foo$BAR"),
    (r'FOO="foo\${BAR}"', "FOO", "foo${BAR}"),
    ('FOO=test\nBAR="foo\\${FOO} ${FOO}"', "BAR", "foo${FOO} test"),
    ('TEST_URLS="a:3333\nb:443"', "TEST_URLS", "a:3333\nb:443"),  # TestVariableStringValueSeparator
    # the spec's examples (Env_file format)
    ("VAR='Let\\'s go!'", "VAR", "Let's go!"),
    ('VAR="{\\"hello\\": \\"json\\"}"', "VAR", '{"hello": "json"}'),
    ("VAR=VAL# not a comment", "VAR", "VAL# not a comment"),
    ('VAR="VAL # not a comment"', "VAR", "VAL # not a comment"),
    ("VAR='${OTHER}'", "VAR", "${OTHER}"),
    ("VAR=", "VAR", ""),
    ("VAR=a$$b", "VAR", "a$b"),
    ("VAR=${NOPE:-fallback}", "VAR", "fallback"),
    ("A=1\r\nB=2\r\n", "B", "2"),  # CRLF
    ("\ufeffA=1", "A", "1"),  # UTF-8 BOM
    ("a[1]=c\na.propertyKey=d", "a[1]", "c"),
    (
        "árvíztűrő-TÜKÖRFÚRÓGÉP=ÁRVÍZTŰRŐ-tükörfúrógép",
        "árvíztűrő-TÜKÖRFÚRÓGÉP",
        "ÁRVÍZTŰRŐ-tükörfúrógép",
    ),
]


@pytest.mark.parametrize(("text", "name", "value"), PARSING)
def test_parsing(text: str, name: str, value: str) -> None:
    assert _values(text)[name] == value


FIXTURES = [
    # compose-go dotenv/fixtures/plain.env
    (
        "OPTION_A=1\nOPTION_B=2\nOPTION_C= 3\nOPTION_D =4\nOPTION_E = 5\n456 = ABC\n"
        "OPTION_F = \nOPTION_G=\nOPTION_H = my string # Inline comment\n",
        {
            "OPTION_A": "1",
            "OPTION_B": "2",
            "OPTION_C": "3",
            "OPTION_D": "4",
            "OPTION_E": "5",
            "456": "ABC",
            "OPTION_F": "",
            "OPTION_G": "",
            "OPTION_H": "my string",
        },
    ),
    # quoted.env
    (
        "OPTION_A='1'\nOPTION_B='2'\nOPTION_C=''\nOPTION_D='\\n'\nOPTION_E=\"1\"\n"
        'OPTION_F="2"\nOPTION_G=""\nOPTION_H="\\n"\nOPTION_I = "echo \'asd\'" # Inline comment\n'
        "OPTION_J = 'first line\nsecond line\nthird line\nand so on'\n"
        "OPTION_K='Let\\'s go!'\nOPTION_Z = \"last value\"\n",
        {
            "OPTION_A": "1",
            "OPTION_B": "2",
            "OPTION_C": "",
            "OPTION_D": "\\n",
            "OPTION_E": "1",
            "OPTION_F": "2",
            "OPTION_G": "",
            "OPTION_H": "\n",
            "OPTION_I": "echo 'asd'",
            "OPTION_J": "first line\nsecond line\nthird line\nand so on",
            "OPTION_K": "Let's go!",
            "OPTION_Z": "last value",
        },
    ),
    # unquoted.env
    (
        'OPTION_A = "some quoted phrase"\nOPTION_B=first one with an unquoted phrase\n'
        "OPTION_C = then another one with an unquoted phrase\n",
        {
            "OPTION_A": "some quoted phrase",
            "OPTION_B": "first one with an unquoted phrase",
            "OPTION_C": "then another one with an unquoted phrase",
        },
    ),
    # substitutions.env
    (
        "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\nOPTION_D=${OPTION_A}_${OPTION_B}\n"
        "OPTION_E=${OPTION_NOT_DEFINED}\n",
        {"OPTION_A": "1", "OPTION_B": "1", "OPTION_C": "1", "OPTION_D": "1_1", "OPTION_E": ""},
    ),
    # special.env
    (
        "VAR.WITH.DOTS=dots\nVAR_WITH_UNDERSCORES=underscores\nVAR-WITH-DASHES=dashes\n",
        {
            "VAR.WITH.DOTS": "dots",
            "VAR_WITH_UNDERSCORES": "underscores",
            "VAR-WITH-DASHES": "dashes",
        },
    ),
    # equals.env
    (
        "export OPTION_A='postgres://localhost:5432/database?sslmode=disable'\n",
        {"OPTION_A": "postgres://localhost:5432/database?sslmode=disable"},
    ),
    # comments and blank lines only
    ("\n\r\n\t\t \n# Comment\n\t # comment", {}),
]


@pytest.mark.parametrize(("text", "expected"), FIXTURES)
def test_fixture_files(text: str, expected: dict[str, str]) -> None:
    assert _values(text) == expected


def test_bare_names_take_the_lookup_value() -> None:
    text = "foo=bar\nVAR_FROM_SHELL\nNOT_SET\nbar=baz\nLAST"
    lookup = {"VAR_FROM_SHELL": "from shell", "LAST": "last"}
    assert _values(text, lookup) == {
        "foo": "bar",
        "VAR_FROM_SHELL": "from shell",
        "bar": "baz",
        "LAST": "last",  # compose-go would store "LAST" under "" here: see the docstring
    }


def test_lookup_wins_over_the_file_for_interpolation() -> None:
    # compose-go TestSubstitutionsWithEnvFilePrecedence / ...DefaultValuePrecedence
    text = (
        "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\nOPTION_D=${OPTION_A}_${OPTION_B}\n"
    )
    assert _values(text, {"OPTION_A": "5"}) == {
        "OPTION_A": "1",
        "OPTION_B": "5",
        "OPTION_C": "5",
        "OPTION_D": "5_5",
    }
    defaults = "OPTION_A=${OPTION_A:-1}\nOPTION_B=${OPTION_A}\n"
    assert _values(defaults, {"OPTION_A": "5"}) == {"OPTION_A": "5", "OPTION_B": "5"}
    assert _values(defaults) == {"OPTION_A": "1", "OPTION_B": "1"}


def test_origins_name_the_line_of_the_last_assignment() -> None:
    parsed = parse_compose_env("# c\nA=1\n\n  export B='x\ny'\nA=2\n", "app/.env", {})
    assert parsed == {
        "A": EnvFileValue("2", Origin("app/.env", 6, 1)),
        "B": EnvFileValue("x\ny", Origin("app/.env", 4, 10)),
    }


ERRORS = [
    (
        "lol$wut",
        "app/.env:1:4: error[invalid-env-file-syntax]: unexpected character '$' in variable name 'lol$'",
    ),
    (
        "%!(EXTRA string)=foo",
        "app/.env:1:1: error[invalid-env-file-syntax]: unexpected character '%' in variable name '%'",
    ),
    (
        '# some comments\nfoo="\n  a\n  multine\n  value\n"\nINVALID LINE\nzot=qix',
        "app/.env:7:1: error[invalid-env-file-syntax]: a space follows the variable name 'INVALID'",
    ),
    (
        'OK=1\nKEY="value',
        "app/.env:2:5: error[invalid-env-file-syntax]: the quoted value of KEY is not terminated",
    ),
    (
        "KEY='value\\'",
        "app/.env:1:5: error[invalid-env-file-syntax]: the quoted value of KEY is not terminated",
    ),
    (
        "KEY=\"value'",
        "app/.env:1:5: error[invalid-env-file-syntax]: the quoted value of KEY is not terminated",
    ),
    (
        "A=1\nB=${PW:?set PW}",
        "app/.env:2:3: error[missing-required-variable]: required variable PW is missing a value: set PW",
    ),
    (
        'B="${A"',
        "app/.env:1:3: error[invalid-interpolation]: invalid interpolation format in the value of B",
    ),
]


@pytest.mark.parametrize(("text", "rendered"), ERRORS)
def test_errors_are_located(text: str, rendered: str) -> None:
    with pytest.raises(StackError) as caught:
        parse_compose_env(text, "app/.env", {})
    first = caught.value.diagnostics[0]
    assert f"{first.origin}: error[{first.code}]: {first.message}" == rendered
    assert first.hint


@pytest.mark.parametrize(
    "text",
    [
        'PW="hunter2-secret',
        "PW='hunter2-secret",
        "PW=hunter2-secret${",
        'PW="hunter2-secret${A:x}"',
        "P$W=hunter2-secret",
        "PW hunter2-secret=1",
        "PASSWORD hunter2",
    ],
)
def test_messages_never_show_a_value(text: str) -> None:
    with pytest.raises(StackError) as caught:
        parse_compose_env(text, ".env", {})
    assert "hunter2" not in caught.value.render()


def test_project_environment_precedence() -> None:
    env = dotenv_environment(
        {"SHELL_ONLY": "s", "BOTH": "shell"},
        [
            (".env", "BOTH=file\nFILE_ONLY=f\nREF=${BOTH}\nBARE_SHELL\nSHELL_ONLY\n"),
            ("override.env", "FILE_ONLY=g\nURL=http://${FILE_ONLY}\n"),
        ],
    )
    assert env.values == {
        "SHELL_ONLY": "s",
        "BOTH": "shell",  # the shell wins
        "FILE_ONLY": "g",  # a later file wins over an earlier one
        "REF": "shell",  # interpolation looks at the shell first
        "URL": "http://g",  # and sees what earlier lines and files set
    }
    assert set(env.from_files) == {"FILE_ONLY", "REF", "URL"}
    assert env.from_files["URL"] == EnvFileValue("http://g", Origin("override.env", 2, 1))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("AB=:'\"\\#$ {}\n\t\r-x0")), max_size=40))
def test_never_raises_anything_but_stack_error(text: str) -> None:
    try:
        result = parse_compose_env(text, ".env", {"A": "a"})
    except StackError as exc:
        assert exc.diagnostics[0].origin is not None
    else:
        assert all(isinstance(v, EnvFileValue) for v in result.values())
