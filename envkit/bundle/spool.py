"""A private temporary file for a bundle's verified images (``bundle load``).

The verifying pass writes the images' members into it, as the tar ``docker load`` reads,
while it hashes them (used when only some of the images are to be loaded): one decompression, and the engine gets exactly the verified bytes.
Another local user must not read, swap or truncate it meanwhile, so it lives in a fresh
folder made by ``mkdtemp`` (mode 0700, owned by us, checked), is created with
``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600, and the folder is removed on every path
(:meth:`Spool.remove`, called from a ``finally``). Its size is bounded by the expansion
limits of the verifying reader. The folder is made under ``ENVKIT_BUNDLE_TMPDIR``, else
``TMPDIR``, else the system's temporary folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator

from envkit.bundle.format import BundleError

__all__ = ["Spool", "spooled"]

NAME = "images.tar"


class Spool:
    def __init__(self, base: str | None = None) -> None:
        base = base or os.environ.get("ENVKIT_BUNDLE_TMPDIR") or None
        try:
            self.dir = tempfile.mkdtemp(prefix="envkit-bundle-", dir=base)
        except OSError as exc:
            raise BundleError(
                f"cannot make a temporary folder for the bundle's images in "
                f"{base or tempfile.gettempdir()}: {exc.strerror or exc}",
                code="bundle-write-failed",
                hint="set ENVKIT_BUNDLE_TMPDIR to a folder with room for the images",
            ) from exc
        st = os.lstat(self.dir)
        if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) != 0o700:
            self.remove()
            raise BundleError(
                f"the temporary folder {self.dir} is not private (owner or mode changed)",
                code="bundle-write-failed",
            )
        self.path = os.path.join(self.dir, NAME)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        self._file = os.fdopen(os.open(self.path, flags, 0o600), "wb", buffering=0)
        self.size = 0

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            hint = (
                "free some space there, or set ENVKIT_BUNDLE_TMPDIR to a folder with room "
                "for the images"
                if exc.errno == errno.ENOSPC
                else None
            )
            raise BundleError(
                f"cannot write the verified images to {self.path}: {exc.strerror or exc}; "
                "nothing was loaded",
                code="bundle-write-failed",
                hint=hint,
            ) from exc
        self.size += len(data)

    def close(self) -> None:
        self._file.close()

    def remove(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            self._file.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def spooled(base: str | None = None) -> Iterator[Spool]:
    """A :class:`Spool`, removed when the block ends, however it ends."""
    spool = Spool(base)
    try:
        yield spool
    finally:
        spool.remove()
