"""Benchmark: `envkit bundle save`/`load` against the manual way, side by side.

    python benchmarks/bench_bundle.py [--repeat 3]

Images: copies of envkit/mariadb:latest (scripts/build-mariadb-image.sh) and
envkit-test/busybox:latest (scripts/build-test-images.sh) made unique for this run (a
first layer with a random file, so no layer is shared with an image already on the
engine and `docker load` really unpacks every layer); only those copies are removed and
loaded, so the images other tests use are never touched. Each row is a separate process,
as a user runs it, best of --repeat (the loads interleaved, round after round):

* manual gzip   save: `docker save IMAGES | gzip > F`   load: `gunzip -c F | docker load`
* manual pigz   save: `docker save IMAGES | pigz > F`   load: `pigz -dc F | docker load`
* manual zstd   save: `docker save IMAGES | zstd -T0 -3 > F`  load: `zstd -dc F | docker load`
* envkit gzip   save: `envkit bundle save b -o F`        load: `envkit bundle load F`
* envkit zstd   save: `envkit bundle save b --zstd -o F` load: `envkit bundle load F`

envkit's load verifies every member's sha256 and docker's own manifest against the
bundle's before the engine may load anything (one pass: the images stream to the engine
while they are verified). The last column is each load over `gunzip -c F | docker load`
measured in the same run; "load CPU s" is what the client side of the load used (gunzip
and the docker CLI, or envkit), steadier than wall time on a busy host; "present" is
`envkit bundle load` again with the images still on the engine (verified, then skipped).
Needs the docker CLI for the manual rows.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

SOURCES = {"db": "envkit/mariadb:latest", "tool": "envkit-test/busybox:latest"}


def sh(cmd: str) -> None:
    subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def child_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes: the client side of a
    load (gunzip and the docker CLI, or envkit), steadier than wall time on a busy host."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best(fn: Callable[[], None], repeat: int, before: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def build_copies(docker: str, work: Path, run: str) -> list[str]:
    """A copy of each source image whose every layer is new to the engine."""
    (work / "unique").write_text(run)
    images = []
    for name, source in SOURCES.items():
        ref = f"envkit-bench/bundle-{name}:{run}"
        dockerfile = f"FROM scratch\nCOPY unique /.envkit-bench\nCOPY --from={source} / /\n"
        (work / "Dockerfile").write_text(dockerfile)
        sh(f"cd {work} && DOCKER_BUILDKIT=0 {docker} build -q -t {ref} .")
        images.append(ref)
    return images


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    docker = shutil.which("docker") or "/usr/bin/docker"
    for image in SOURCES.values():
        if subprocess.run([docker, "image", "inspect", image], capture_output=True).returncode:
            sys.exit(f"missing {image}: run scripts/setup.sh --with-mariadb")
    envkit = f"{sys.executable} -m envkit"
    work = Path(tempfile.mkdtemp(prefix="envkit-bench-bundle-"))
    run = uuid.uuid4().hex[:10]
    images = build_copies(docker, work, run)
    imgs = " ".join(images)
    stack = work / "envkit.yaml"
    services = "".join(f"  s{i}: {{image: '{ref}'}}\n" for i, ref in enumerate(images))
    stack.write_text(f"stack: benchbundle\nenvironments: {{b: {{}}}}\nservices:\n{services}")

    def remove_images() -> None:
        subprocess.run([docker, "image", "rm", *images], capture_output=True)

    cases = [
        ("manual gzip", f"{docker} save {imgs} | gzip > {{f}}", f"gunzip -c {{f}} | {docker} load", "tar.gz"),
        ("manual pigz", f"{docker} save {imgs} | pigz > {{f}}", f"pigz -dc {{f}} | {docker} load", "tar.gz"),
        ("manual zstd", f"{docker} save {imgs} | zstd -q -T0 -3 > {{f}}", f"zstd -q -dc {{f}} | {docker} load", "tar.zst"),
        ("envkit gzip", f"{envkit} -f {stack} bundle save b -o {{f}}", f"{envkit} bundle load {{f}}", "tar.gz"),
        ("envkit zstd", f"{envkit} -f {stack} bundle save b --zstd -o {{f}}", f"{envkit} bundle load {{f}}", "tar.zst"),
    ]  # fmt: skip
    cases = [
        c
        for c in cases
        if not (c[0] == "manual pigz" and not shutil.which("pigz"))
        and not (c[0] == "manual zstd" and not shutil.which("zstd"))
    ]
    saves: dict[str, float] = {}
    sizes: dict[str, int] = {}
    loads: dict[str, list[float]] = {c[0]: [] for c in cases}
    cpus: dict[str, list[float]] = {c[0]: [] for c in cases}
    present: list[float] = []
    files = {label: work / f"{label.replace(' ', '-')}.{ext}" for label, _s, _l, ext in cases}
    try:
        for label, save, _load, _ext in cases:
            saves[label] = best(lambda s=save, f=files[label]: sh(s.format(f=f)), args.repeat)
            sizes[label] = files[label].stat().st_size
        # loads interleaved, round after round, so a busy machine slows every way alike
        for _ in range(args.repeat):
            for label, _save, load, _ext in cases:
                remove_images()
                t0, c0 = time.perf_counter(), child_cpu()
                sh(load.format(f=files[label]))
                loads[label].append(time.perf_counter() - t0)
                cpus[label].append(child_cpu() - c0)
                if label == "envkit gzip":  # again, with the images on the engine
                    t0 = time.perf_counter()
                    sh(load.format(f=files[label]))
                    present.append(time.perf_counter() - t0)
    finally:
        remove_images()
        shutil.rmtree(work, ignore_errors=True)
    floor = min(loads["manual gzip"])
    print(
        f"| {'way':<15} | {'save s':>7} | {'load s':>7} | {'load CPU s':>10} | {'size MB':>8} "
        f"| {'load / gunzip|load':>18} |"
    )
    print(f"|{'-' * 17}|{'-' * 9}|{'-' * 9}|{'-' * 12}|{'-' * 10}|{'-' * 20}|")
    for label, *_ in cases:
        t_load = min(loads[label])
        print(
            f"| {label:<15} | {saves[label]:7.2f} | {t_load:7.2f} | {min(cpus[label]):10.2f} "
            f"| {sizes[label] / 1e6:8.2f} | {t_load / floor:17.2f}x |"
        )
    again = min(present)
    print(
        f"| {'envkit, present':<15} | {'':>7} | {again:7.2f} | {'':>10} | {'':>8} "
        f"| {again / floor:17.2f}x |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
