"""``envkit bundle save|load|inspect|push``: images without internet (``envkit.bundle``)."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from envkit.cli.commands.common import engine, resolve_env

if TYPE_CHECKING:
    from envkit.bundle import Verified
    from envkit.bundle.streams import Progress
    from envkit.cli.console import Console
    from envkit.engine.base import ImageStore


def cmd_bundle(args: argparse.Namespace, console: Console) -> int:
    handler = {
        "save": _save,
        "load": _load,
        "inspect": _inspect,
        "push": _push,
    }[args.bundle_command]
    return handler(args, console)


def _bar(console: Console, label: str, total: int) -> Progress | None:
    from envkit.bundle.streams import Progress

    return Progress(console.err_stream, label, total) if console.err_is_tty else None


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _save(args: argparse.Namespace, console: Console) -> int:
    from envkit.bundle import save_bundle

    resolved = resolve_env(args, console)
    result = save_bundle(
        resolved,
        engine(resolved.desired),
        args.output,
        compression="zstd" if args.zstd else "gzip",
        include_secrets=args.include_secrets,
        on_output=lambda ref, line: console.err(f"{ref} | {line}"),
        progress=lambda label, total: _bar(console, label, total),
    )
    m = result.manifest
    for image in m.images:
        console.err(f"  image {', '.join(image.refs)}  {image.id[:19]}  {_mb(image.size)}")
    for item in m.omitted:
        console.err(f"  warning: not in the bundle: {item}")
    for item in m.secret_files:
        console.err(f"  secret: {item}")
    if m.secret_files:
        console.err("  secret files were left out or blanked (--include-secrets keeps them)")
    console.err(f"wrote {result.path} ({_mb(result.size)})")
    console.out(f"{result.path}  sha256:{result.sha256}")
    return 0


def _verify(args: argparse.Namespace, console: Console) -> Verified:
    from envkit.bundle import verify_bundle

    size = os.path.getsize(args.bundle) if os.path.isfile(args.bundle) else 0
    bar = _bar(console, "verifying", size)
    try:
        return verify_bundle(args.bundle, bar)
    finally:
        if bar is not None:
            bar.finish()


@contextlib.contextmanager
def _opened(args: argparse.Namespace, console: Console) -> Iterator[Verified]:
    """Verified, with its images in a private temporary file while the block runs."""
    from envkit.bundle import open_bundle

    size = os.path.getsize(args.bundle) if os.path.isfile(args.bundle) else 0
    bar = _bar(console, "verifying", size)
    try:
        with open_bundle(args.bundle, bar) as verified:
            if bar is not None:
                bar.finish()
                bar = None
            yield verified
    finally:
        if bar is not None:
            bar.finish()


def _load(args: argparse.Namespace, console: Console) -> int:
    from envkit.bundle import extract_stack, verify_and_load

    addresses = list(dict.fromkeys(args.engine or []))
    if len(addresses) > 1:
        return _load_many(args, console, addresses)
    written: list[str] = []

    def before_load(verified: Verified) -> None:
        # everything verified; the stack files are written before any image is loaded
        if args.extract:
            written.extend(extract_stack(verified, args.extract, force=args.force))
        console.err(f"{args.bundle}: verified ({len(verified.manifest.members)} members)")

    size = os.path.getsize(args.bundle) if os.path.isfile(args.bundle) else 0
    bar = _bar(console, "verifying and loading", size)
    try:
        verified, refs = verify_and_load(
            args.bundle,
            engine(address=addresses[0] if addresses else None),
            before_load=before_load,
            on_output=lambda line: console.err(f"  {line}"),
            progress=bar,
        )
    finally:
        if bar is not None:
            bar.finish()
    for ref in refs:
        console.out(ref)
    _loaded(args, console, verified, written, "")
    return 0


def _load_many(args: argparse.Namespace, console: Console, addresses: list[str]) -> int:
    """``--engine`` given more than once (every node of a Swarm without a registry): the
    bundle is verified once, then loaded onto every engine at the same time."""
    from envkit.bundle import extract_stack, load_onto_engines

    engines: dict[str, ImageStore] = {}
    seen: set[str] = set()
    for address in addresses:
        eng = engine(address=address)
        if eng.identity not in seen:  # two spellings of one engine: load once
            seen.add(eng.identity)
            engines[address] = eng
    with _opened(args, console) as verified:
        written = extract_stack(verified, args.extract, force=args.force) if args.extract else []
        console.err(f"{args.bundle}: verified ({len(verified.manifest.members)} members)")
        loaded = load_onto_engines(
            verified, engines, on_output=lambda name, line: console.err(f"  {name}: {line}")
        )
    for ref in dict.fromkeys(ref for refs in loaded.values() for ref in refs):
        console.out(ref)
    _loaded(args, console, verified, written, f" onto {len(loaded)} engines ({', '.join(loaded)})")
    return 0


def _loaded(
    args: argparse.Namespace, console: Console, verified: Verified, written: list[str], onto: str
) -> None:
    m = verified.manifest
    if args.extract:
        for path in written:
            console.err(f"  wrote {path}")
        stack_file = m.stack_file.removeprefix("stack/")
        done = f"loaded{onto}; " if onto else ""
        console.err(
            f"{done}next: envkit -f {args.extract.rstrip('/')}/{stack_file} up {m.environment}"
        )
    else:
        console.err(
            f"loaded the images of {m.stack}/{m.environment}{onto}; `--extract DIR` also "
            "writes its stack file"
        )


def _inspect(args: argparse.Namespace, console: Console) -> int:
    verified = _verify(args, console)
    m = verified.manifest
    if args.json:
        data = {"file": verified.path, "size": verified.size, "verified": True, **m.to_json()}
        console.out_json(data)
        return 0
    files = [x for x in m.members if x.type == "file"]
    console.out(f"bundle      {verified.path} ({_mb(verified.size)}, {verified.compression})")
    console.out("verified    every member's sha256 matches the manifest")
    console.out(f"format      {m.format_version} (envkit {m.envkit_version}, {m.created})")
    console.out(f"stack       {m.stack}, environment {m.environment}")
    console.out(f"secrets     {m.secrets}")
    console.out("images")
    for image in m.images:
        refs = ", ".join(image.refs)
        console.out(f"  {refs}  {image.id[:19]}  {_mb(image.size)}  ({', '.join(image.services)})")
    console.out("stack files")
    for member in files:
        if member.name.startswith("stack/"):
            console.out(f"  {member.name.removeprefix('stack/')}  {member.size} bytes")
    image_bytes = sum(x.size for x in files if x.name.startswith("images/"))
    console.out(f"image data  {_mb(image_bytes)} in {len(m.members)} members")
    for item in m.omitted:
        console.out(f"not included  {item}")
    for item in m.secret_files:
        console.out(f"secret      {item}")
    return 0


def _push_target(args: argparse.Namespace, console: Console) -> tuple[str, ImageStore]:
    """(registry, engine) for ``bundle push``: ``--registry`` and ``--engine``, or with
    ``--env ENV`` the environment's ``registry:`` and its engine: for a Swarm environment
    its manager, so the registry's address is the one the nodes pull from."""
    from envkit.cli.commands.common import read_stack, stack_path
    from envkit.errors import UsageError
    from envkit.stackfile.dialect import environment_def
    from envkit.stackfile.enginesetting import swarm_manager

    if args.env is None:
        if args.registry is None:
            raise UsageError(
                "bundle push needs --registry HOST:PORT or --env ENV",
                hint="--env ENV pushes to that environment's `registry:` through its engine",
            )
        return args.registry, engine(address=args.engine)
    doc = read_stack(args)
    registry = args.registry or environment_def(doc.data, args.env).get("registry")
    if not isinstance(registry, str):
        raise UsageError(
            f"environment {args.env} of {stack_path(args)} has no `registry:`",
            hint=f"set `registry: HOST:PORT` on environments.{args.env} (where its engine "
            "pulls from), or give --registry",
        )
    if args.engine:
        return registry, engine(address=args.engine)
    manager = swarm_manager(doc, args.env)
    if manager is not None:
        return registry, engine(address=manager)  # the manager's engine
    return registry, engine(resolve_env(args, console, doc).desired)


def _push(args: argparse.Namespace, console: Console) -> int:
    from envkit.bundle import push_bundle
    from envkit.errors import UsageError
    from envkit.stackfile.imageref import is_registry

    registry, target = _push_target(args, console)
    if not is_registry(registry):
        raise UsageError(
            f"registry {registry!r} is not HOST[:PORT]",
            hint="for example --registry 127.0.0.1:5000 (no http://)",
        )
    with _opened(args, console) as verified:
        pushed = push_bundle(
            verified, target, registry, on_output=lambda line: console.err(f"  {line}")
        )
    for ref in pushed:
        console.out(ref)
    m = verified.manifest
    if args.env is None:
        console.err(
            f"pushed {len(pushed)} image(s); to pull them, set `registry: {registry}` on "
            f"environments.{m.environment} in the stack file"
        )
    else:
        console.err(
            f"pushed {len(pushed)} image(s) to {registry}; `envkit up {args.env}` pulls them "
            "from there (on a Swarm, pinned by digest)"
        )
    return 0
