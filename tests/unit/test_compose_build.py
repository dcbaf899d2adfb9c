"""Compose's build keys on the classic builder: read into BuildSpec, hashed into the build
fingerprint and context hash (so a change rebuilds), printed back by ``envkit config``, and
the BuildKit-only keys refused with a located message."""

from __future__ import annotations

from pathlib import Path

import pytest

from envkit.canonical import spec_hash
from envkit.cli.commands.config import compose_document
from envkit.engine.docker_images import build_fingerprint
from envkit.errors import StackError
from envkit.model import BuildSpec, ServiceSpec
from envkit.stackfile import read, resolve

BUILD = """\
services:
  app:
    image: shop/app:1
    build:
      context: ctx
      dockerfile_inline: |
        FROM scratch
      tags: [shop/app:latest, "shop/app:${TAG:-dev}"]
      labels: [team=shop, tier=web]
      network: host
      shm_size: 64m
      extra_hosts: {db.local: 10.0.0.5}
      cache_from: [shop/app:cache]
      no_cache: true
      pull: false
"""


def _desired(tmp_path: Path, text: str = BUILD) -> ServiceSpec:
    (tmp_path / "ctx").mkdir(exist_ok=True)
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return resolve(read(path), "default", environ={"TAG": "7"}).desired.services[0]


def test_build_keys_are_read(tmp_path: Path) -> None:
    build = _desired(tmp_path).build
    assert build is not None
    assert build.dockerfile_inline == "FROM scratch\n"
    assert build.tags == ("shop/app:latest", "shop/app:7")
    assert build.labels == (("team", "shop"), ("tier", "web"))
    assert (build.network, build.shm_size) == ("host", 64 << 20)
    assert build.extra_hosts == (("db.local", "10.0.0.5"),)
    assert build.cache_from == ("shop/app:cache",)
    assert (build.no_cache, build.pull) == (True, False)
    assert build.context_hash.startswith("sha256:")  # no Dockerfile file needed


def test_the_inline_dockerfile_is_part_of_the_context_hash(tmp_path: Path) -> None:
    before = _desired(tmp_path)
    after = _desired(tmp_path, BUILD.replace("FROM scratch", "FROM scratch\n        LABEL a=b"))
    assert before.build and after.build
    assert before.build.context_hash != after.build.context_hash
    assert spec_hash(before) != spec_hash(after)


def test_a_new_build_key_at_its_default_changes_no_hash_nor_fingerprint() -> None:
    """Stacks and images built before these keys existed are not recreated nor rebuilt:
    both values are what main computed before the keys were added."""
    plain = BuildSpec("/ctx", args=(("A", "1"),), context_hash="sha256:x")
    assert build_fingerprint(plain) == (
        "sha256:fd5345002c950652c0f230c725ee9115d166d8780149fdd90abb54c344f6c148"
    )
    svc = ServiceSpec("app", "a", build=plain)
    assert spec_hash(svc) == "v2-c83a0b751f0692e318c9add68dd8c2a5"


@pytest.mark.parametrize(
    ("field", "value", "rebuilds"),
    [
        ("labels", (("a", "b"),), True),
        ("tags", ("x:1",), True),
        ("network", "host", True),
        ("shm_size", 1 << 20, True),
        ("extra_hosts", (("h", "1.2.3.4"),), True),
        ("dockerfile_inline", "FROM scratch\n", True),
        ("no_cache", True, False),
        ("pull", True, False),
        ("cache_from", ("x:1",), False),
    ],
)
def test_what_makes_another_image(field: str, value: object, rebuilds: bool) -> None:
    from dataclasses import replace

    plain = BuildSpec("/ctx", context_hash="sha256:x")
    changed = replace(plain, **{field: value})
    assert (build_fingerprint(changed) != build_fingerprint(plain)) is rebuilds


def test_config_prints_the_build_keys_back(tmp_path: Path) -> None:
    svc = _desired(tmp_path)
    printed = compose_document(resolve(read(tmp_path / "compose.yaml"), "default",
                                       environ={"TAG": "7"}).desired)  # fmt: skip
    build = printed["services"]["app"]["build"]
    assert build == {
        "context": str(tmp_path / "ctx"),
        "dockerfile_inline": "FROM scratch\n",
        "tags": ["shop/app:latest", "shop/app:7"],
        "labels": {"team": "shop", "tier": "web"},
        "network": "host",
        "shm_size": "64m",
        "extra_hosts": ["db.local:10.0.0.5"],
        "cache_from": ["shop/app:cache"],
        "no_cache": True,
    }
    import yaml

    (tmp_path / "back").mkdir()
    (tmp_path / "back" / "compose.yaml").write_text(yaml.safe_dump(printed))
    again = resolve(read(tmp_path / "back" / "compose.yaml"), "default", environ={})
    assert again.desired.services[0].build == svc.build


@pytest.mark.parametrize("key", ["platforms", "ssh", "secrets", "additional_contexts", "cache_to"])
def test_buildkit_only_keys_are_refused_where_they_are(tmp_path: Path, key: str) -> None:
    value = {"platforms": "[linux/amd64]", "ssh": "[default]", "secrets": "[token]",
             "additional_contexts": "{base: ../base}", "cache_to": "[type=inline]"}[key]  # fmt: skip
    text = f"services:\n  app:\n    build:\n      context: ctx\n      {key}: {value}\n"
    with pytest.raises(StackError) as caught:
        _desired(tmp_path, text)
    (problem,) = caught.value.diagnostics
    assert problem.code == "needs-buildkit"
    assert str(problem.origin) == f"{tmp_path / 'compose.yaml'}:5:{9 + len(key)}"
    assert f"build.{key} needs BuildKit" in problem.message
    assert "docker buildx build" in str(problem.hint)


def test_dockerfile_and_inline_together_are_refused(tmp_path: Path) -> None:
    text = BUILD.replace(
        "      dockerfile_inline:", "      dockerfile: D\n      dockerfile_inline:"
    )
    with pytest.raises(StackError) as caught:
        _desired(tmp_path, text)
    assert [p.code for p in caught.value.diagnostics] == ["invalid-build"]


@pytest.mark.parametrize("tag", ["Shop:1", "shop/app:", "shop/app@sha256:abc", "a b"])
def test_a_tag_docker_cannot_take_is_refused_where_it_is(tmp_path: Path, tag: str) -> None:
    text = f"services:\n  app:\n    build:\n      context: ctx\n      tags: ['{tag}']\n"
    with pytest.raises(StackError) as caught:
        _desired(tmp_path, text)
    (problem,) = caught.value.diagnostics
    assert (problem.code, str(problem.origin)) == (
        "invalid-build",
        f"{tmp_path / 'compose.yaml'}:5:14",
    )


@pytest.mark.parametrize("tag", ["shop/app:1.2", "127.0.0.1:5000/shop/app", "a__b/c-d.e:x_1"])
def test_tags_docker_takes_are_read(tmp_path: Path, tag: str) -> None:
    text = (
        "services:\n  app:\n    build:\n      context: ctx\n"
        f"      dockerfile_inline: FROM scratch\n      tags: ['{tag}']\n"
    )
    build = _desired(tmp_path, text).build
    assert build is not None and build.tags == (tag,)


def test_build_labels_merge_by_name_across_files(tmp_path: Path) -> None:
    """As build.args: a later file's label replaces the earlier one of the same name, in
    list and mapping form (Compose's merge of unique resources)."""
    base = tmp_path / "compose.yaml"
    base.write_text("services:\n  app:\n    build: {context: ., labels: [a=1, b=2]}\n")
    over = tmp_path / "compose.override.yaml"
    over.write_text("services:\n  app:\n    build: {labels: {b: '20', c: '3'}}\n")
    doc = read([str(base), str(over)])
    assert doc.data["services"]["app"]["build"]["labels"] == ["a=1", "b=20", "c=3"]
