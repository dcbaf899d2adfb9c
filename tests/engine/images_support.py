"""Helpers for the image tests: a private registry (Debian's docker-registry) on 127.0.0.1,
and running ``envkit`` in-process on a stack file. Test traffic stays on 127.0.0.1."""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_registry() -> Iterator[str]:
    """A throwaway registry on 127.0.0.1:PORT (plain http: Docker allows it on
    127.0.0.0/8), storage in a temp dir; yields ``127.0.0.1:PORT``."""
    binary = shutil.which("docker-registry") or REGISTRY_BIN
    if not Path(binary).exists():
        raise RuntimeError(
            "docker-registry is not installed: apt-get install -y docker-registry "
            "(scripts/setup.sh does)"
        )
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="envkit-registry-") as tmp:
        config = Path(tmp) / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {tmp}/data}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: '127.0.0.1:{port}'}}\n"
        )
        log = open(Path(tmp) / "registry.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            "docker-registry did not start: "
                            + (Path(tmp) / "registry.log").read_text()[-2000:]
                        ) from None
                    time.sleep(0.1)
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def envkit(*args: str) -> Ran:
    """``envkit ARGS`` in-process."""
    from envkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return Ran(code, out.getvalue(), err.getvalue())
