"""The arguments of the stack-file, reconcile, inspect, gc and bundle commands, one
function a command, for :mod:`envkit.cli.table` (``lifecycle_args`` has those of the
container lifecycle commands)."""

from __future__ import annotations

import argparse

from envkit.cli.argtypes import (
    non_negative_duration,
    positive_duration,
    positive_int,
)
from envkit.cli.arguments import (
    Parser,
    add_engine,
    add_env,
    add_env_file,
    add_profile,
    add_render_options,
    add_var,
)

__all__ = [
    "bundle_arguments",
    "config_arguments",
    "down_arguments",
    "env_arguments",
    "gc_arguments",
    "graph_arguments",
    "plan_arguments",
    "port_arguments",
    "ps_arguments",
    "render_arguments",
    "rollback_arguments",
    "up_arguments",
    "validate_arguments",
]


def validate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("envs", nargs="*", metavar="ENV", help="environments to check (default: all)")
    add_var(p)
    add_profile(p)
    add_env_file(p)
    p.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse host access (binds of system folders, the Docker socket or paths "
        "outside the stack's folder, privileged, ports on every interface): for CI on "
        "untrusted branches",
    )


def render_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p, single=True)
    add_render_options(p)
    p.add_argument("--json", action="store_true", help="JSON instead of YAML")
    p.add_argument(
        "--explain", action="store_true", help="show each variable's value, layer and origin"
    )


def plan_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p, single=True)
    p.add_argument(
        "services",
        nargs="*",
        metavar="SERVICE",
        help="only these services and what they depend on (default: all)",
    )
    add_render_options(p)
    p.add_argument("--json", action="store_true", help="the plan as JSON on stdout")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="list the main attributes of each container to create",
    )
    p.add_argument(
        "-o",
        "--out",
        metavar="FILE",
        help="also save the plan (0600), for 'envkit up --plan FILE' to apply exactly it",
    )
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there are no changes, 2 when there are, 1 on error",
    )


def _lock_timeout(p: argparse.ArgumentParser, default: float, what: str) -> None:
    p.add_argument(
        "--lock-timeout",
        type=non_negative_duration,
        default=default,
        metavar="S",
        help=f"seconds to wait for another envkit working on {what} (default {default:g})",
    )


def up_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p, single=True)
    p.add_argument(
        "--plan",
        metavar="FILE",
        help="apply exactly the plan 'envkit plan ENV -o FILE' saved, or refuse if the stack "
        "or the engine changed since (ENV and -f come from the file)",
    )
    p.add_argument(
        "services",
        nargs="*",
        metavar="SERVICE",
        help="only these services and what they depend on; the others are left as they are (default: all)",
    )
    add_render_options(p)
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait until every service is healthy (or running without a healthcheck)",
    )
    p.add_argument(
        "--timeout",
        type=positive_duration,
        default=300.0,
        metavar="S",
        help="seconds to wait for each start/health condition (default 300)",
    )
    _lock_timeout(p, 600.0, "this instance")
    p.add_argument("--json", action="store_true", help="print the instance's services as JSON")
    p.add_argument(
        "-V",
        "--renew-anon-volumes",
        action="store_true",
        help="recreated containers get new anonymous volumes instead of keeping the old "
        "ones' (the data in those stays until down --volumes)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse host access (binds of system folders, the Docker socket or paths "
        "outside the stack's folder, privileged, ports on every interface): for CI on "
        "untrusted branches",
    )
    p.add_argument(
        "--ephemeral",
        action="store_true",
        help="a new instance with a unique id (printed on stdout, or in the JSON)",
    )
    p.add_argument(
        "--ttl",
        metavar="D",
        help="expire the instance D from now (90s, 15m, 2h, 1d); 'envkit gc' removes it "
        "then. Running up --ttl again extends it",
    )


def down_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p, single=True)
    p.add_argument(
        "services",
        nargs="*",
        metavar="SERVICE",
        help="only these services' containers (the network and volumes stay) (default: all)",
    )
    add_render_options(p)
    p.add_argument("--volumes", action="store_true", help="also remove its named volumes (data!)")
    p.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="with --volumes: do not ask on a terminal before deleting the data",
    )
    _lock_timeout(p, 600.0, "this instance")


def rollback_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p)
    add_render_options(p)
    p.add_argument("--timeout", type=float, default=300.0, metavar="S", help="wait up to S s")
    _lock_timeout(p, 600.0, "this instance")


def ps_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p, optional=True)
    add_render_options(p)
    p.add_argument("--all", action="store_true", help="every envkit project on the engine")
    p.add_argument("--json", action="store_true", help="the status documents as JSON on stdout")
    add_engine(p, "without ENV: the engine to list (ENV uses its own engine: setting)")


def port_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p)
    p.add_argument("service", metavar="SERVICE", help="the service")
    p.add_argument("port", metavar="PORT[/PROTO]", help="its container port, e.g. 3306 or 53/udp")
    add_render_options(p)
    p.add_argument(
        "--index", type=positive_int, default=1, metavar="N", help="replica number (default 1)"
    )


def config_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p, single=True)
    add_render_options(p)
    p.add_argument(
        "--show-secrets",
        action="store_true",
        help="print sensitive values instead of masking them as (sensitive)",
    )


def env_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p, single=True)
    add_render_options(p)
    p.add_argument(
        "--format",
        choices=("shell", "json"),
        default="shell",
        help="shell: export lines for eval (default); json: one object",
    )


def graph_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p, single=True)
    add_render_options(p)
    p.add_argument(
        "--format",
        choices=("mermaid", "dot"),
        default="mermaid",
        help="mermaid (default; renders in READMEs and on code hosts) or dot (Graphviz)",
    )


def gc_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="print what would be removed")
    p.add_argument(
        "--older-than",
        metavar="D",
        help="also remove instances (with an expiry) whose newest container is older than D",
    )
    p.add_argument(
        "--include-unexpiring",
        action="store_true",
        help="with --older-than: instances without an expiry too",
    )
    p.add_argument("--json", action="store_true", help="what was removed, as JSON on stdout")
    add_engine(p, "the engine to collect on")
    p.add_argument(
        "--swarm",
        metavar="MANAGER",
        help="collect the Swarm stacks whose lease (up --ttl) expired, through this manager "
        "(unix:///PATH, tcp://HOST:2376, ssh://USER@HOST)",
    )
    p.add_argument(
        "--lock-timeout",
        type=non_negative_duration,
        default=10.0,
        metavar="S",
        help="seconds to wait for an envkit working on an instance before skipping it",
    )


def bundle_arguments(p: argparse.ArgumentParser) -> None:
    bundle = p.add_subparsers(
        dest="bundle_command", metavar="SUBCOMMAND", parser_class=Parser, help="what to do"
    )
    bundle.required = True
    b = bundle.add_parser("save", help="write every image ENV needs, its stack and a manifest")
    add_env(b)
    add_render_options(b)
    b.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the bundle to write (default: {stack}-{env}_{YYYYMMDD}.envkit.tar.gz)",
    )
    b.add_argument(
        "--zstd", action="store_true", help="zstd (multi-threaded, faster) instead of gzip"
    )
    b.add_argument(
        "--include-secrets",
        action="store_true",
        help="keep the values of the env files (left out by default)",
    )
    b = bundle.add_parser("load", help="verify a bundle, then load its images into the engine")
    b.add_argument("bundle", metavar="FILE", help="the bundle file")
    b.add_argument("--extract", metavar="DIR", help="also write the bundle's stack files into DIR")
    b.add_argument("--force", action="store_true", help="with --extract: overwrite files")
    b.add_argument(
        "--engine",
        action="append",
        metavar="ADDRESS|CONTEXT",
        help="the engine to load the images into (unix:///PATH, tcp://HOST:2376, "
        "ssh://USER@HOST or a docker context; default: DOCKER_HOST, else the local socket); "
        "repeat it to load onto several engines at once, e.g. every node of a Swarm "
        "without a registry",
    )
    b = bundle.add_parser("inspect", help="verify a bundle and list its contents (no loading)")
    b.add_argument("bundle", metavar="FILE", help="the bundle file")
    b.add_argument("--json", action="store_true", help="the manifest as JSON on stdout")
    b = bundle.add_parser("push", help="push a bundle's images into a private registry")
    b.add_argument("bundle", metavar="FILE", help="the bundle file")
    b.add_argument(
        "--registry",
        metavar="HOST:PORT",
        help="the registry; set `registry: HOST:PORT` on the environment to pull from it",
    )
    b.add_argument(
        "--env",
        metavar="ENV",
        help="push to this environment's `registry:` through its engine (a Swarm's manager)",
    )
    add_engine(b, "the engine that tags and pushes the images")
