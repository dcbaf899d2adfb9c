"""What a container on the engine really is, compared with what its labels claim (pure).

The spec hash label says what envkit created; these checks read what the engine's
container list reports for the container itself, so drift made outside envkit shows in the
plan instead of "No changes":

- network attachments, as Compose's ``checkExpectedNetworks`` compares them: the container
  must be attached to every network its service joins, by the id that network has now (a network
  removed and made again has a new id; a container still pointing at the old one cannot
  start). A missing or stale attachment -> recreate, as Compose does: a recreate restores
  the endpoint exactly as created (the service-name alias included) through the one tested
  create path, where a reconnect would have to repeat it by hand.
- the command: the list's ``Command`` (entrypoint and arguments joined) must be what the
  spec's ``entrypoint``/``command`` give. Where the spec leaves a part to the image, only
  the part the spec sets is compared (no image inspect). A container made by hand with
  copied envkit labels and another command is found this way. The observed command is
  never shown: it may carry a secret.

The environment is not in the list, and reading it would cost one inspect per container
on every plan; it is not compared (neither does Compose).
"""

from __future__ import annotations

from collections.abc import Mapping

from envkit.engine.base import ObservedContainer
from envkit.model import ServiceSpec
from envkit.reconcile.spec_diff import FieldDiff

__all__ = ["COMMAND_CHANGED", "command_drift", "list_command", "network_drift"]

COMMAND_CHANGED = "the container's command differs from the stack's (changed outside envkit)"


def network_drift(
    expected: Mapping[str, str | None], container: ObservedContainer
) -> FieldDiff | None:
    """How ``container``'s attachments differ from ``expected`` (network name -> the id it
    has now; None: it does not exist and will be created; "": not observed, so only the
    attachment is checked), as one field difference; None when they are right or the
    engine did not report them."""
    if container.networks is None or not expected:
        return None
    shown: list[str] = []
    drifted = False
    for network, network_id in expected.items():
        attached = container.networks.get(network)
        state = ""
        if attached is None:
            state = "disconnected"
        elif network_id is None:
            state = "network removed"
        elif network_id and attached and attached != network_id:
            state = "network re-created; attached to the old one"
        drifted = drifted or bool(state)
        shown.append(f"{network} ({state})" if state else network)
    if not drifted:
        return None
    return FieldDiff("networks", tuple(shown), tuple(expected))


def list_command(words: tuple[str, ...]) -> str:
    """A command as the engine's container list writes it (Docker's ``daemon/list.go``):
    the first word as it is, each other word in single quotes when it has a space."""
    if not words:
        return ""
    rest = [f"'{w}'" if " " in w else w for w in words[1:]]
    return " ".join([words[0], *rest])


def command_drift(spec: ServiceSpec, container: ObservedContainer) -> bool:
    """Whether ``container`` runs another command than ``spec`` gives it, as far as the
    spec decides it: with an entrypoint, the whole command (Docker drops the image's
    default arguments when the entrypoint is set); with only a command, its end (the
    image's entrypoint comes first); with neither, nothing is compared."""
    seen = container.command
    if seen is None:
        return False
    if spec.entrypoint:
        return seen != list_command((*spec.entrypoint, *(spec.command or ())))
    if spec.command:
        expected = list_command(spec.command)
        if seen == expected:
            return False
        # After the image's entrypoint the first word is an argument: quoted if spaced.
        tail = " ".join(f"'{w}'" if " " in w else w for w in spec.command)
        return not seen.endswith(" " + tail)
    return False
