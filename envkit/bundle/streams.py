"""Compressed byte streams for bundles, and a progress bar.

gzip: compressed through ``pigz`` (Debian's parallel gzip, every core) when it is on PATH,
else zlib in-process; decompressed with zlib in-process (inflating is serial, and measured
here it beats ``pigz -d`` through a pipe). Level 6 either way (gzip's default), so a bundle is no larger than
``docker save | gzip``. zstd: the ``zstandard`` package (extra ``envkit[zstd]``), level 3,
one worker thread per core. Plain tar is read too (a bundle someone gunzipped).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import IO, Any, BinaryIO, TextIO, cast

from envkit.bundle.format import BundleError

__all__ = ["Progress", "compressed_writer", "decompressed_reader", "detect"]

GZIP_LEVEL = 6
ZSTD_LEVEL = 3
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _pigz() -> str | None:
    if os.environ.get("ENVKIT_NO_PIGZ"):
        return None
    return shutil.which("pigz")


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError as exc:
        raise BundleError(
            "zstd needs the zstandard package",
            code="zstd-missing",
            hint="pip install 'envkit[zstd]' (or zstandard), or leave out --zstd for gzip",
        ) from exc
    return zstandard


class _ProcessWriter:
    """write() into a compressor process whose stdout is the target file."""

    def __init__(self, argv: list[str], target: BinaryIO) -> None:
        self._name = argv[0]
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=target, stderr=subprocess.PIPE
        )
        assert self._proc.stdin is not None
        self._stdin = self._proc.stdin

    def write(self, data: bytes) -> int:
        try:
            self._stdin.write(data)
        except BrokenPipeError:
            self._fail()
        return len(data)

    def _fail(self) -> None:
        self._proc.wait()
        err = self._proc.stderr.read().decode(errors="replace").strip() if self._proc.stderr else ""
        raise OSError(f"{self._name} failed: {err or f'exit {self._proc.returncode}'}")

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self._stdin.close()
        if self._proc.wait() != 0:
            self._fail()
        if self._proc.stderr:
            self._proc.stderr.close()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._stdin.close()
        self._proc.kill()
        self._proc.wait()


@contextlib.contextmanager
def compressed_writer(target: BinaryIO, compression: str) -> Iterator[IO[bytes]]:
    """A binary writer whose bytes land compressed in ``target``."""
    if compression == "zstd":
        zstd = _zstandard()
        compressor = zstd.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
        with compressor.stream_writer(target, closefd=False) as writer:
            yield writer
        return
    pigz = _pigz()
    if pigz is None:
        with gzip.GzipFile(fileobj=target, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as gz:
            yield gz  # type: ignore[misc]
        return
    proc = _ProcessWriter([pigz, f"-{GZIP_LEVEL}", "-c", "-n"], target)
    try:
        yield proc  # type: ignore[misc]
    except BaseException:
        proc.abort()
        raise
    proc.close()


def detect(head: bytes) -> str:
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "none"
    return "unknown"


class _Counting:
    """A reader that counts the bytes read from the file (for the progress bar)."""

    def __init__(self, raw: BinaryIO, progress: Progress | None) -> None:
        self._raw = raw
        self._progress = progress

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if self._progress is not None:
            self._progress.add(len(data))
        return data


class _Prefetch:
    """A reader that decompresses ahead in a thread: zlib and zstd release the GIL while
    they work, so decompressing overlaps with what the caller does with the bytes (hashing,
    sending them to the engine), as the two processes of ``gunzip | docker load`` do. At
    most ``depth`` chunks wait, so memory stays bounded."""

    def __init__(self, raw: Any, chunk: int = 1 << 20, depth: int = 4) -> None:
        self._raw = raw
        self._chunk = chunk
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(depth)
        self._stop = threading.Event()
        self._buf = b""
        self._eof = False
        self._thread = threading.Thread(target=self._run, name="envkit-decompress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._raw.read(self._chunk)
                self._put(data)
                if not data:
                    return
        except BaseException as exc:  # handed to the reader, raised there
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, n: int = -1) -> bytes:
        parts = [self._buf]
        have = len(self._buf)
        while (n < 0 or have < n) and not self._eof:
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            if not item:
                self._eof = True
                break
            parts.append(item)
            have += len(item)
        data = b"".join(parts) if len(parts) > 1 else parts[0]
        if n < 0 or len(data) <= n:
            self._buf = b""
            return data
        self._buf = data[n:]
        return data[:n]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def _prefetched(raw: Any) -> Iterator[_Prefetch]:
    reader = _Prefetch(raw)
    try:
        yield reader
    finally:
        reader.close()


@contextlib.contextmanager
def decompressed_reader(path: str, progress: Progress | None = None) -> Iterator[tuple[str, Any]]:
    """(compression, a binary reader of the decompressed bytes) of the file at ``path``.
    A truncated or corrupt stream raises EOFError/zlib.error from read(), or
    ends early (zstd), which the tar reader notices."""
    with open(path, "rb") as raw:
        head = raw.read(512)
        raw.seek(0)
        kind = detect(head)
        source = _Counting(raw, progress)
        if kind == "zstd":
            zstd = _zstandard()
            reader = zstd.ZstdDecompressor().stream_reader(source, read_across_frames=True)
            with reader, _prefetched(reader) as ahead:
                yield kind, ahead
        elif kind == "gzip":
            # zlib in-process, in a thread: here it beats `pigz -d` through a pipe (gzip
            # decompression is serial; the pipe only adds copies)
            with (
                gzip.GzipFile(fileobj=cast(Any, source), mode="rb") as gz,
                _prefetched(gz) as ahead,
            ):
                yield kind, ahead
        else:
            yield kind, source


class Progress:
    """A one-line progress bar on a TTY (``stream``), at most ten redraws a second."""

    def __init__(self, stream: TextIO, label: str, total: int) -> None:
        self._stream = stream
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self._start = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            if now - self._last >= 0.1:
                self._last = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        frac = min(self.done / self.total, 1.0)
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        rate = self.done / max(now - self._start, 1e-6) / 1e6
        self._stream.write(
            f"\r{self.label} [{bar}] {frac * 100:5.1f}% {self.done / 1e6:8.1f} MB {rate:6.1f} MB/s"
        )
        self._stream.flush()

    def finish(self) -> None:
        self._draw(time.monotonic())
        self._stream.write("\n")
        self._stream.flush()


def progress_for(stream: TextIO, label: str, total: int) -> Progress | None:
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Progress(stream, label, total) if tty else None
