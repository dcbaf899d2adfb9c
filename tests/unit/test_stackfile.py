"""stackfile.load: the tree, the source map, and every way a file can be bad (exact messages)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envkit.errors import Origin, StackError
from envkit.stackfile.document import MAX_BYTES, Document, load

LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{','.join(['*' + prev] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def load_here(tmp_path: Path, content: str | bytes) -> Document:
    return load(write(tmp_path, content), display="stack.yaml")


def error_of(tmp_path: Path, content: str | bytes) -> str:
    with pytest.raises(StackError) as info:
        load_here(tmp_path, content)
    return info.value.render()


BAD = [
    (
        "invalid-yaml",
        "stack: x\nservices: [a, b\nvolumes: {}\n",
        "stack.yaml:3:8: error[invalid-yaml]: (root): invalid YAML: did not find expected ',' or ']'"
        " (while parsing a flow sequence)\n"
        "  hint: check the indentation and quoting on this line and the one before",
    ),
    (
        "tab-indent",
        "stack: x\nservices:\n\tdb: {}\n",
        "stack.yaml:3:1: error[invalid-yaml]: (root): invalid YAML: found character that cannot"
        " start any token (while scanning for the next token)\n"
        "  hint: YAML does not allow tabs for indentation; use spaces",
    ),
    (
        "empty",
        "",
        "stack.yaml:1:1: error[empty-file]: (root): the stack file is empty\n"
        "  hint: start with 'stack: NAME' and a 'services:' mapping",
    ),
    (
        "only-comments",
        "# nothing here\n\n",
        "stack.yaml:1:1: error[empty-file]: (root): the stack file is empty\n"
        "  hint: start with 'stack: NAME' and a 'services:' mapping",
    ),
    (
        "list",
        "- stack: x\n",
        "stack.yaml:1:1: error[not-a-mapping]: (root): the document is a list, expected a mapping\n"
        "  hint: a stack file is a mapping with 'stack:' and 'services:' keys",
    ),
    (
        "scalar",
        "just text\n",
        "stack.yaml:1:1: error[not-a-mapping]: (root): the document is a string, expected a mapping\n"
        "  hint: a stack file is a mapping with 'stack:' and 'services:' keys",
    ),
    (
        "duplicate-key",
        "stack: x\nservices:\n  db: {image: a}\n  web: {image: b}\n  db: {image: c}\n",
        "stack.yaml:5:3: error[duplicate-key]: services.db: duplicate key 'db'"
        " (first defined at line 3, column 3)\n"
        "  hint: YAML would silently keep only the last one; remove or rename one of them",
    ),
    (
        "int-key",
        "stack: x\nservices:\n  80: {image: a}\n",
        "stack.yaml:3:3: error[invalid-key]: services: the key 80 is not a string\n"
        "  hint: quote it: '80'",
    ),
    (
        "complex-key",
        "stack: x\n? [a, b]\n: 1\n",
        "stack.yaml:2:3: error[invalid-key]: (root): a mapping key must be a plain string,"
        " not a list or a mapping",
    ),
    (
        "multiple-documents",
        "stack: x\n---\nstack: y\n",
        "stack.yaml:2:1: error[multiple-documents]: (root): the file holds more than one YAML"
        " document\n"
        "  hint: a stack file is one document; remove the '---' separator and what follows",
    ),
    (
        "not-utf8",
        b"stack: x\nservices:\n  db: {image: caf\xe9}\n",
        "stack.yaml:3:18: error[not-utf8]: (root): the file is not valid UTF-8: byte 0xe9 at"
        " offset 36\n"
        "  hint: save the file as UTF-8",
    ),
    (
        "utf16",
        "stack: x\n".encode("utf-16"),
        "stack.yaml:1:1: error[not-utf8]: (root): the file is not valid UTF-8: byte 0xff at"
        " offset 0\n"
        "  hint: the file looks like UTF-16; save it as UTF-8",
    ),
    (
        "control-character",
        "stack: x\nservices: \x07\n",
        "stack.yaml:2:11: error[invalid-yaml]: (root): invalid YAML: the character U+0007 is not"
        " allowed in YAML\n"
        "  hint: remove the control character (a stack file is text)",
    ),
    (
        "alias-bomb",
        LAUGHS,
        "stack.yaml:5:23: error[yaml-alias-limit]: e[5]: aliases expand to more than 50000 nodes\n"
        "  hint: this looks like an alias bomb; envkit refuses to expand it",
    ),
    (
        "recursive-alias",
        "stack: x\nloop: &a [1, *a]\n",
        "stack.yaml:2:14: error[yaml-alias]: loop[1]: the alias *a refers to a node that contains"
        " it\n"
        "  hint: an alias cannot point into its own anchor",
    ),
    (
        "undefined-alias",
        "stack: x\nservices: *nope\n",
        "stack.yaml:2:11: error[yaml-alias]: services: the alias *nope has no anchor &nope before"
        " it\n"
        "  hint: define the anchor (&name) before using the alias (*name)",
    ),
    (
        "python-tag",
        "stack: !!python/object/apply:os.system [ls]\n",
        "stack.yaml:1:8: error[yaml-tag]: (root): the tag tag:yaml.org,2002:python/object/apply:"
        "os.system is not supported",
    ),
    (
        "bad-explicit-int",
        "stack: x\nreplicas: !!int abc\n",
        "stack.yaml:2:11: error[yaml-tag]: (root): 'abc' is not a valid !!int",
    ),
    (
        "too-deep",
        "stack: " + "[" * 100_000,
        "stack.yaml:1:71: error[yaml-too-deep]: (root): the document nests deeper than 64 levels",
    ),
    (
        "merge-not-mapping",
        "stack: x\nservices:\n  db:\n    <<: 3\n",
        "stack.yaml:4:9: error[invalid-merge]: (root): a merge key '<<' takes a mapping or a list"
        " of mappings\n"
        "  hint: write '<<: *anchor' where the anchor names a mapping",
    ),
]


@pytest.mark.parametrize(("content", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_files_are_refused_with_a_located_message(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    assert error_of(tmp_path, content) == expected


def test_a_file_over_the_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.write(b"stack: x\n# " + b"x" * (10 * 1024 * 1024) + b"\n")
    with pytest.raises(StackError) as info:
        load(path, display="big.yaml")
    assert info.value.render() == (
        "error[file-too-large]: (root): big.yaml is larger than 4 MiB\n"
        "  hint: a stack file is a few kilobytes; check that -f names the right file"
    )


def test_a_file_just_under_the_limit_is_read(tmp_path: Path) -> None:
    body = b"stack: x\n"
    path = write(tmp_path, body + b"#" * (MAX_BYTES - len(body) - 1) + b"\n")
    assert load(path).data == {"stack": "x"}


HINT_F = "  hint: pass the stack file with -f FILE (the default is ./envkit.yaml, else ./compose.yaml, compose.yml, docker-compose.yml or docker-compose.yaml)"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackError) as info:
        load(tmp_path, display="somewhere")
    assert info.value.render() == (
        f"error[unreadable]: (root): somewhere is a directory, not a stack file\n{HINT_F}"
    )


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackError) as info:
        load(tmp_path / "nope.yaml", display="nope.yaml")
    assert info.value.render() == f"error[unreadable]: (root): nope.yaml does not exist\n{HINT_F}"


def test_a_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(StackError) as info:
        load(fifo, display="pipe.yaml")
    assert info.value.render() == (
        f"error[unreadable]: (root): pipe.yaml is not a regular file\n{HINT_F}"
    )


EXPECTED_DENIED = (
    f"error[unreadable]: (root): stack.yaml cannot be read: permission denied\n{HINT_F}"
)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file; covered by the next test")
def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "stack: x\n")
    path.chmod(0)
    with pytest.raises(StackError) as info:
        load(path, display="stack.yaml")
    assert info.value.render() == EXPECTED_DENIED


def test_permission_denied_on_open_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "stack: x\n")

    def denied(self: Path, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(StackError) as info:
        load(path, display="stack.yaml")
    assert info.value.render() == EXPECTED_DENIED


def test_errors_are_collected_not_just_the_first(tmp_path: Path) -> None:
    message = error_of(tmp_path, "stack: x\nstack: y\nvars: {a: 1, a: 2}\n")
    assert [line.split(" error")[0] for line in message.splitlines() if "error[" in line] == [
        "stack.yaml:2:1:",
        "stack.yaml:3:14:",
    ]


SOURCE = """\
stack: shop
x-base: &base
  image: busybox
  environment: {A: "1"}
services:
  db:
    image: "mysql:5.7"
    ports: [8080:80, 80, "53:53/udp"]
    restart: no
    privileged: yes
    mem_limit: 0x10
    cpus: 1.5
    init: true
    user: null
  web:
    <<: *base
    environment: {B: "2"}
"""


def test_document_data_follows_yaml_12_core(tmp_path: Path) -> None:
    doc = load_here(tmp_path, SOURCE)
    db = doc.data["services"]["db"]
    assert db["ports"] == ["8080:80", 80, "53:53/udp"]  # never the base-60 integer 484880
    assert db["restart"] == "no"  # not False
    assert db["privileged"] == "yes"  # a string; the schema says it should be true/false
    assert (db["mem_limit"], db["cpus"], db["init"], db["user"]) == (16, 1.5, True, None)


def test_merge_keys_merge_with_explicit_keys_winning(tmp_path: Path) -> None:
    doc = load_here(tmp_path, SOURCE)
    assert doc.data["services"]["web"] == {"image": "busybox", "environment": {"B": "2"}}
    # A merged value points at where it was written, under the anchor.
    assert doc.origin(("services", "web", "image")) == Origin("stack.yaml", 3, 10)
    assert doc.origin(("services", "web", "environment", "B")) == Origin("stack.yaml", 17, 22)


def test_origins_of_values_and_keys(tmp_path: Path) -> None:
    doc = load_here(tmp_path, SOURCE)
    assert doc.origin(("services", "db", "ports", 2)) == Origin("stack.yaml", 8, 26)
    assert doc.key_origin(("services", "db", "ports")) == Origin("stack.yaml", 8, 5)
    assert doc.origin(("services", "db", "image")) == Origin("stack.yaml", 7, 12)
    # A missing path falls back to the nearest ancestor that exists.
    assert doc.origin(("services", "db", "healthcheck", "test")) == Origin("stack.yaml", 7, 5)
    assert doc.key_origin(("services", "nope")) == doc.origin(("services",))
    assert doc.origin(()) == Origin("stack.yaml", 1, 1)


def test_document_paths(tmp_path: Path) -> None:
    path = write(tmp_path, "stack: x\n")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        doc = load("stack.yaml")
    finally:
        os.chdir(cwd)
    assert doc.path == path and doc.path.is_absolute()
    assert doc.display == "stack.yaml"
    assert doc.directory == tmp_path


def test_aliases_are_copies(tmp_path: Path) -> None:
    doc = load_here(tmp_path, "stack: x\na: &a {k: [1]}\nb: *a\n")
    assert doc.data["a"] == doc.data["b"]
    assert doc.data["a"] is not doc.data["b"]
    assert doc.data["a"]["k"] is not doc.data["b"]["k"]
    assert doc.origin(("b", "k", 0)) == Origin("stack.yaml", 2, 12)
