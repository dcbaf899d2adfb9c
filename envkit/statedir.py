"""envkit's per-user private state folder: instance locks, watchdog logs, the validation memo.

Where: ``$ENVKIT_STATE_DIR`` if set, else ``$XDG_STATE_HOME/envkit``, else
``~/.local/state/envkit``. Never a folder shared by users (such as ``/tmp``): a shared
folder lets another local user plant a symlink where root will write, or hold a lock that
blocks every instance for ever.

:func:`private_dir` makes the folder (mode 0700) when it is missing and checks it every
time, like OpenSSH's ``StrictModes``:

- the folder itself is a real directory (not a symlink), owned by the current user and not
  writable by group or others;
- every folder above it (symlinks resolved) is owned by root or by the current user and is
  not writable by group or others unless it has the sticky bit (``/tmp`` itself is fine as
  a parent: nobody else can rename or remove what we own in it).

A folder that fails the check is refused with :class:`UnsafeStateDir`, saying which folder
and why, never repaired silently. Files inside are opened with :func:`open_private`:
``O_NOFOLLOW``, created 0600, never truncated on open, and refused unless a regular file of
ours.

Since the folder is per user, two users driving one engine do not share instance locks
(the owner check refuses a shared folder by design): each user's runs exclude each other,
and no user can block or redirect another's.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from envkit.errors import UnsafeStateDir

__all__ = ["UnsafeStateDir", "base_dir", "open_private", "private_dir"]

_HINT = (
    "envkit keeps locks and caches in a private folder: owned by you, mode 0700, under "
    "folders that only you or root can write. Fix the folder named above "
    "(chown/chmod), or set ENVKIT_STATE_DIR to a folder of your own (it is made if missing)"
)


def base_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The state folder's path as configured (not checked, not made)."""
    env = os.environ if environ is None else environ
    if env.get("ENVKIT_STATE_DIR"):
        return Path(os.path.abspath(env["ENVKIT_STATE_DIR"]))
    if env.get("XDG_STATE_HOME") and os.path.isabs(env["XDG_STATE_HOME"]):
        return Path(env["XDG_STATE_HOME"]) / "envkit"
    home = env.get("HOME") or os.path.expanduser("~")
    if not os.path.isabs(home):
        raise UnsafeStateDir(
            "cannot find a state folder: HOME is not set",
            hint="set ENVKIT_STATE_DIR to a folder of your own (it is made if missing)",
        )
    return Path(home) / ".local" / "state" / "envkit"


def private_dir(sub: str | None = None, *, environ: Mapping[str, str] | None = None) -> Path:
    """The checked state folder (or its sub-folder ``sub``), made 0700 where missing.
    Returns the resolved path. Raises :class:`UnsafeStateDir`."""
    target = base_dir(environ)
    if sub is not None:
        target = target / sub
    missing: list[str] = []
    existing = target
    while not os.path.lexists(existing):
        missing.append(existing.name)
        existing = existing.parent
    real = Path(os.path.realpath(existing))
    for ancestor in reversed(real.parents):
        _check_ancestor(ancestor)
    for name in reversed(missing):
        _check_ancestor(real)
        real = real / name
        try:
            os.mkdir(real, 0o700)
        except FileExistsError:  # made concurrently: checked below like any other
            pass
        except OSError as exc:
            raise UnsafeStateDir(
                f"cannot make the state folder {real}: {exc.strerror}", hint=_HINT
            ) from exc
    if sub is not None:
        _check_own(real.parent)
    _check_own(real)
    return real


def open_private(path: Path, flags: int = os.O_RDWR) -> int:
    """Open (creating 0600 when missing) a file in a checked private folder: never through a
    symlink, never truncated, never blocking on a FIFO, refused unless a regular file of
    ours."""
    opening = flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(path, opening, 0o600)
    except OSError as exc:
        raise UnsafeStateDir(
            f"cannot open {path}: {_what_is(path) or exc.strerror}",
            hint=f"remove {path}; envkit makes it again",
        ) from exc
    info = os.fstat(fd)
    problem = _what_is(path, info)
    if problem:
        os.close(fd)
        raise UnsafeStateDir(f"{path} is {problem}", hint=f"remove {path}; envkit makes it again")
    if not flags & os.O_NONBLOCK:
        os.set_blocking(fd, True)
    return fd


def _what_is(path: Path, info: os.stat_result | None = None) -> str | None:
    """What is wrong with ``path`` as a private file, or None."""
    if info is None:
        try:
            info = os.lstat(path)
        except OSError:
            return None
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link; envkit never follows one there"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid != os.geteuid():
        return _owner(info)
    return None


def _owner(info: os.stat_result) -> str:
    return f"owned by uid {info.st_uid}, not by you (uid {os.geteuid()})"


def _check_ancestor(path: Path) -> None:
    info = _lstat(path)
    uid = os.geteuid()
    if info.st_uid not in (0, uid):
        raise UnsafeStateDir(f"{path}, above the state folder, is {_owner(info)}", hint=_HINT)
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        raise UnsafeStateDir(
            f"{path}, above the state folder, is writable by other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o}) without the sticky bit",
            hint=_HINT,
        )


def _check_own(path: Path) -> None:
    info = _lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafeStateDir(f"the state folder {path} is not a directory", hint=_HINT)
    if info.st_uid != os.geteuid():
        raise UnsafeStateDir(f"the state folder {path} is {_owner(info)}", hint=_HINT)
    if info.st_mode & 0o022:
        raise UnsafeStateDir(
            f"the state folder {path} is writable by other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o})",
            hint=f"chmod 700 {path}",
        )


def _lstat(path: Path) -> os.stat_result:
    try:
        return os.lstat(path)
    except OSError as exc:
        raise UnsafeStateDir(f"cannot check {path}: {exc.strerror}", hint=_HINT) from exc
