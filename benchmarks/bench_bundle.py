"""Benchmark: `envkit bundle save`/`load` of the demo images against the manual way.

    python benchmarks/bench_bundle.py [--repeat 3]

Images: envkit/mariadb:latest (scripts/build-mariadb-image.sh) and
envkit-test/busybox:latest (scripts/build-test-images.sh), in one stack. Each row is a
separate process, as a user runs it, best of --repeat:

* manual gzip   save: `docker save IMAGES | gzip > F`   load: `gunzip -c F | docker load`
* manual pigz   save: `docker save IMAGES | pigz > F`   load: `pigz -dc F | docker load`
* manual zstd   save: `docker save IMAGES | zstd -T0 -3 > F`  load: `zstd -dc F | docker load`
* envkit gzip   save: `envkit bundle save b -o F`        load: `envkit bundle load F`
* envkit zstd   save: `envkit bundle save b --zstd -o F` load: `envkit bundle load F`

Before each load the images are removed, so docker really loads them. envkit's load
includes verifying every member's sha256 before loading (one extra decompression pass).
Needs the docker CLI for the manual rows.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

IMAGES = ["envkit/mariadb:latest", "envkit-test/busybox:latest"]
STACK = """stack: benchbundle
environments: {b: {}}
services:
  db: {image: "envkit/mariadb:latest"}
  tool: {image: "envkit-test/busybox:latest"}
"""


def sh(cmd: str) -> None:
    subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def best(fn: Callable[[], None], repeat: int, before: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    docker = shutil.which("docker") or "/usr/bin/docker"
    for image in IMAGES:
        if subprocess.run([docker, "image", "inspect", image], capture_output=True).returncode:
            sys.exit(f"missing {image}: run scripts/setup.sh --with-mariadb")
    imgs = " ".join(IMAGES)
    envkit = f"{sys.executable} -m envkit"
    work = Path(tempfile.mkdtemp(prefix="envkit-bench-bundle-"))
    stack = work / "envkit.yaml"
    stack.write_text(STACK)

    def remove_images() -> None:
        subprocess.run([docker, "image", "rm", *IMAGES], capture_output=True)

    rows = []
    cases = [
        ("manual gzip", f"{docker} save {imgs} | gzip > {{f}}", f"gunzip -c {{f}} | {docker} load", "tar.gz"),
        ("manual pigz", f"{docker} save {imgs} | pigz > {{f}}", f"pigz -dc {{f}} | {docker} load", "tar.gz"),
        ("manual zstd", f"{docker} save {imgs} | zstd -q -T0 -3 > {{f}}", f"zstd -q -dc {{f}} | {docker} load", "tar.zst"),
        ("envkit gzip", f"{envkit} -f {stack} bundle save b -o {{f}}", f"{envkit} bundle load {{f}}", "tar.gz"),
        ("envkit zstd", f"{envkit} -f {stack} bundle save b --zstd -o {{f}}", f"{envkit} bundle load {{f}}", "tar.zst"),
    ]  # fmt: skip
    try:
        for label, save, load, ext in cases:
            if label.startswith("manual pigz") and not shutil.which("pigz"):
                continue
            if label.startswith("manual zstd") and not shutil.which("zstd"):
                continue
            f = work / f"{label.replace(' ', '-')}.{ext}"
            t_save = best(lambda s=save, f=f: sh(s.format(f=f)), args.repeat)
            size = f.stat().st_size
            t_load = best(lambda s=load, f=f: sh(s.format(f=f)), args.repeat, remove_images)
            rows.append((label, t_save, t_load, size))
            f.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for image in IMAGES:  # leave the machine as it was
            if subprocess.run([docker, "image", "inspect", image], capture_output=True).returncode:
                sys.exit(f"{image} is gone: rebuild it (scripts/setup.sh --with-mariadb)")

    print(f"| {'way':<12} | {'save s':>7} | {'load s':>7} | {'size MB':>8} |")
    print(f"|{'-' * 14}|{'-' * 9}|{'-' * 9}|{'-' * 10}|")
    for label, t_save, t_load, size in rows:
        print(f"| {label:<12} | {t_save:7.2f} | {t_load:7.2f} | {size / 1e6:8.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
