"""The key that hashes sensitive values in container labels (:class:`envkit.model.SecretKey`).

Labels are readable by anyone who can talk to the engine, so a secret is recorded there only
as an HMAC-SHA256 token under a key that is not on the engine:

- ``ENVKIT_SECRET_KEY`` (at least 32 characters), when set: the same key on every machine
  that drives one engine (a CI job and a developer, two CI runners);
- otherwise the per-user key file ``secret.key`` in envkit's private state folder
  (:mod:`envkit.statedir`: checked for owner and mode, made 0700), created on first use
  with 256 random bits, mode 0600. Its content is a valid ``ENVKIT_SECRET_KEY``.

A container whose spec was hashed under another key is recreated by ``plan``/``up`` with the
reason "sensitive value hashed with another envkit key" (it cannot tell whether a secret
changed), never silently kept.

The file is opened without following symlinks and without blocking on a FIFO, and refused
unless it is a regular file of ours that no other user can read.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from envkit.errors import EnvkitError
from envkit.model import DesiredState, SecretKey
from envkit.statedir import base_dir, private_dir

__all__ = ["ENV_VAR", "SecretKeyError", "key_path", "load_key", "with_secret_key"]

ENV_VAR = "ENVKIT_SECRET_KEY"
FILE_NAME = "secret.key"
_MIN_LENGTH = 32
_MAX_LENGTH = 4096

_SHARE_HINT = (
    f"to share one key between machines, copy the content of the key file into {ENV_VAR} "
    "on each of them (a CI secret, for example)"
)


class SecretKeyError(EnvkitError):
    """envkit's secret key cannot be read, made, or is not safe to use."""

    code = "secret-key"
    exit_code = 1


def key_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the per-user key file is (not checked, not made)."""
    return base_dir(environ) / FILE_NAME


def load_key(environ: Mapping[str, str] | None = None) -> SecretKey:
    """``ENVKIT_SECRET_KEY``, else the key file (made when missing). Raises SecretKeyError."""
    env = os.environ if environ is None else environ
    shared = env.get(ENV_VAR)
    if shared is not None:
        return SecretKey(_checked(shared.strip(), f"{ENV_VAR} (from the environment)"))
    path = private_dir(environ=env) / FILE_NAME
    text = _read(path)
    if text is None:
        text = _create(path)
    return SecretKey(_checked(text.strip(), str(path)))


def with_secret_key(
    desired: DesiredState, environ: Mapping[str, str] | None = None
) -> DesiredState:
    """``desired`` with the secret key attached, loaded only when it has sensitive values."""
    if desired.secret_key is not None:
        return desired
    if not desired.sensitive_values and not any(s.sensitive_env for s in desired.services):
        return desired
    return replace(desired, secret_key=load_key(environ))


def _checked(text: str, where: str) -> bytes:
    if len(text) < _MIN_LENGTH:
        raise SecretKeyError(
            f"the secret key in {where} is too short ({len(text)} characters)",
            hint=f"use at least {_MIN_LENGTH} random characters "
            "(python3 -c 'import secrets; print(secrets.token_hex(32))')",
        )
    return text.encode("utf-8")


def _read(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretKeyError(
            f"cannot read the secret key file {path}: {exc.strerror}",
            hint=f"remove it if it is a symbolic link or not yours; {_SHARE_HINT}",
        ) from exc
    try:
        info = os.fstat(fd)
        problem = _problem(info)
        if problem:
            raise SecretKeyError(
                f"the secret key file {path} {problem}",
                hint=f"chmod 600 {path}, or remove it (containers hashed with it are then "
                "recreated once)",
            )
        data = os.read(fd, _MAX_LENGTH + 1)
    finally:
        os.close(fd)
    if len(data) > _MAX_LENGTH:
        raise SecretKeyError(f"the secret key file {path} is too large", hint=f"remove {path}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SecretKeyError(
            f"the secret key file {path} is not text", hint=f"remove {path}"
        ) from exc


def _problem(info: os.stat_result) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if info.st_uid != os.geteuid():
        return f"is owned by uid {info.st_uid}, not by you"
    if info.st_mode & 0o077:
        return f"can be read or written by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def _create(path: Path) -> str:
    """Write a new key to a private temporary file, then link it into place: another envkit
    starting at the same moment either sees no key file or a complete one."""
    text = secrets.token_hex(32) + "\n"
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600)
        try:
            os.write(fd, text.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:  # made concurrently by another envkit: use that one
            existing = _read(path)
            if existing is None:
                raise
            return existing
    except OSError as exc:
        raise SecretKeyError(
            f"cannot make the secret key file {path}: {exc.strerror}",
            hint=f"set ENVKIT_STATE_DIR to a writable folder of your own, or set {ENV_VAR}",
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return text
