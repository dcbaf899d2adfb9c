"""Where envkit may write a file it is told to (``bundle save -o``, ``plan -o``): a regular
file (replaced) or a new path, never anything else.

Writers put a temporary file next to the target and rename it over the target at the end
(:func:`write_private` for small files). A rename replaces whatever sits at the name, so the target is checked first, without
following a link: a device (``-o /dev/null`` as root would become a regular file), a FIFO,
a socket, a folder or a symlink is refused with a usage error (exit 2), and so is a folder
that does not exist. The rename itself never follows a link, so a link planted at the name
after the check is replaced, not followed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from envkit.errors import UsageError

__all__ = ["check_output", "write_private"]

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}


def check_output(path: Path, what: str = "a bundle", example: str = "NAME.envkit.tar.gz") -> Path:
    """``path`` when ``what`` may be written there, else UsageError saying why."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(
            f"-o {path}: cannot be written ({exc.strerror or exc})",
            code="bad-output",
            hint="give the path of a new file or of a regular file to replace",
        ) from exc
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        hint = (
            f"give a file name inside it, e.g. -o {path / example}"
            if stat.S_ISDIR(st.st_mode)
            else f"{what} is written to a new file or replaces a regular file; give another path"
        )
        raise UsageError(
            f"-o {path}: is {kind}; {what} is only written to a regular file",
            code="bad-output",
            hint=hint,
        )
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(
            f"-o {path}: the folder {parent} does not exist",
            code="bad-output",
            hint=f"create it first (mkdir -p {parent}) or write {what} elsewhere",
        )
    return path


def write_private(path: Path, data: bytes, what: str, example: str) -> None:
    """Write ``data`` to ``path`` (checked as above), mode 0600, all or nothing: a temporary
    file made with O_EXCL next to it, then renamed over it (a rename never follows a link)."""
    import secrets

    check_output(path, what, example)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
