"""A watchdog process that removes an instance when the process that made it dies.

A test runner killed with SIGKILL runs no ``finally``, no atexit and no fixture teardown;
only the kernel acts on its death: it closes the dead process's file descriptors and
re-parents its children. The watchdog listens for exactly that:

- :meth:`Watchdog.spawn` (in the parent, before ``up``) makes a pipe and starts
  ``python -m envkit.watchdog --project P --parent-pid N --fd R`` in a new session (so a
  Ctrl-C or a kill of the parent's process group does not reach it), with stdin/stdout on
  /dev/null and stderr appended to its own log file under ``watchdog/`` of the per-user
  private state folder (:mod:`envkit.statedir`; opened without following a symlink). The child gets
  only the pipe's read end; the parent keeps the write end (close-on-exec, so no other
  program it runs inherits it) and never writes to it until it stands the watchdog down.
- The child blocks on the read end. **EOF** means every holder of the write end is gone:
  the parent died, however it died. Every second it also checks the parent itself (it is
  re-parented when the parent dies; ``kill(pid, 0)`` otherwise), for a parent whose forked
  children (``multiprocessing``) still hold a copy of the write end.
- Then it runs ``down --volumes`` for the project (``envkit.reconcile.verbs.down``: under the
  instance lock, which the kernel released with the dead parent's descriptors; only
  objects carrying the project's labels), retrying a few times while the engine does not
  answer, logs what it removed, and exits.
- A parent that tears the instance down itself writes :data:`STAND_DOWN` and closes its
  end: the child exits without touching anything.

``prctl(PR_SET_PDEATHSIG)`` is not used: it fires when the *thread* that forked the child
exits (not the process), is Linux-only, and is lost across a set-uid exec. No container and
no image are involved, so it works wherever envkit does. An instance whose watchdog was
killed too (a whole-machine crash) is left to its TTL and ``envkit gc``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from envkit.model import EngineSetting
from envkit.statedir import open_private, private_dir

__all__ = ["STAND_DOWN", "Watchdog", "log_dir", "main"]

STAND_DOWN = b"stand-down\n"
POLL_S = 1.0
DOWN_ATTEMPTS = 5


def log_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``watchdog/`` in the private state folder, made and checked (UnsafeStateDir)."""
    return private_dir("watchdog", environ=environ)


def _package_root() -> str:
    """The directory holding the ``envkit`` package, so the child imports this same copy."""
    return str(Path(__file__).resolve().parent.parent)


class Watchdog:
    """The parent's side: the child process and the write end of its pipe. The write end
    is a bare descriptor on purpose: losing this object does not close it (and so does not
    fire the watchdog); only :meth:`stand_down` or the process's death does."""

    def __init__(self, project: str, process: subprocess.Popen[bytes], fd: int, log: Path):
        self.project = project
        self.process = process
        self.log_path = log
        self._fd: int | None = fd

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def spawn(
        cls,
        project: str,
        *,
        volumes: bool = True,
        parent_pid: int | None = None,
        environ: Mapping[str, str] | None = None,
        engine: EngineSetting | None = None,
    ) -> Watchdog:
        """Start a watchdog for ``project`` that fires when ``parent_pid`` (default: this
        process) dies. ``environ``: the child's environment (default: ``os.environ``), from
        which it finds the engine (DOCKER_HOST) and the state dir, like this process.
        ``engine``: the environment's ``engine:`` setting, handed to the child as JSON."""
        env = dict(os.environ if environ is None else environ)
        root = _package_root()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        if env.get("DOCKER_CERT_PATH"):  # the child runs in /
            env["DOCKER_CERT_PATH"] = os.path.abspath(env["DOCKER_CERT_PATH"])
        directory = log_dir(env)
        env["ENVKIT_STATE_DIR"] = str(directory.parent)  # the same locks as this process
        log = directory / f"{project}.{os.getpid()}.log"
        log_fd = open_private(log, os.O_WRONLY | os.O_APPEND)
        read_end, write_end = os.pipe()  # both close-on-exec (PEP 446)
        argv = [
            sys.executable,
            "-m",
            "envkit.watchdog",
            "--project",
            project,
            "--parent-pid",
            str(parent_pid or os.getpid()),
            "--fd",
            str(read_end),
        ]
        if not volumes:
            argv.append("--keep-volumes")
        if engine is not None:
            argv += ["--engine-setting", json.dumps(dataclasses.asdict(engine))]
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_fd,
                pass_fds=(read_end,),
                start_new_session=True,
                cwd="/",
                env=env,
            )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
            os.close(log_fd)
        return cls(project, process, write_end, log)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stand_down(self, timeout_s: float = 10.0) -> None:
        """Tell the watchdog the instance is gone (the parent removed it) and wait for it
        to exit. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):  # a dead watchdog: EPIPE
                os.write(fd, STAND_DOWN)
            os.close(fd)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):  # nothing happened: nothing worth keeping
            if self.process.returncode == 0 and _only_stood_down(self.log_path):
                self.log_path.unlink()


def _only_stood_down(log: Path) -> bool:
    return "tearing down" not in log.read_text(errors="replace")


# -- the child -------------------------------------------------------------------------------


def _say(stream: TextIO, message: str) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    stream.write(f"{stamp} envkit-watchdog[{os.getpid()}]: {message}\n")
    stream.flush()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, someone else's
        return True
    return True


def wait_for_parent(fd: int, parent_pid: int, *, poll_s: float = POLL_S) -> str | None:
    """Block until the parent dies (-> why, for the log) or stands us down (-> None)."""
    direct = os.getppid() == parent_pid
    received = b""
    while True:
        ready, _, _ = select.select([fd], [], [], poll_s)
        if ready:
            chunk = os.read(fd, 64)
            if not chunk:
                return "the parent's end of the pipe closed (the parent exited)"
            received += chunk
            if STAND_DOWN in received:
                return None
            continue
        if direct and os.getppid() != parent_pid:
            return f"parent {parent_pid} is gone (re-parented to {os.getppid()})"
        if not direct and not _alive(parent_pid):
            return f"parent {parent_pid} is gone"


def tear_down(
    project: str, *, volumes: bool, log: TextIO, engine_setting: EngineSetting | None = None
) -> bool:
    """``down`` the project (on the engine ``engine_setting`` names, default DOCKER_HOST),
    retrying while the engine does not answer."""
    from envkit.engine.factory import engine_from_env
    from envkit.errors import EngineUnavailable, EnvkitError
    from envkit.progress import LineReporter
    from envkit.reconcile.verbs import down

    for attempt in range(1, DOWN_ATTEMPTS + 1):
        try:
            engine = engine_from_env(endpoint=engine_setting)
        except EnvkitError as exc:  # DOCKER_HOST names no engine: retrying will not help
            _say(log, f"tearing down {project} failed: {exc.render()}")
            return False
        try:
            result = down(project, engine, volumes=volumes, reporter=LineReporter(log))
        except EngineUnavailable as exc:
            _say(log, f"attempt {attempt}: {exc.message}")
            time.sleep(min(2.0**attempt, 30.0))
            continue
        except EnvkitError as exc:
            _say(log, f"tearing down {project} failed: {exc.render()}")
            return False
        finally:
            engine.close()
        _say(
            log,
            f"removed {project}: {len(result.containers)} container(s), "
            f"{len(result.networks)} network(s), {len(result.volumes)} volume(s)",
        )
        return True
    _say(log, f"gave up on {project}: the engine did not answer; its ttl and gc remain")
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m envkit.watchdog",
        description="Remove an envkit instance when the process that made it dies.",
    )
    parser.add_argument("--project", required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--fd", type=int, required=True, help="read end of the parent's pipe")
    parser.add_argument("--keep-volumes", action="store_true")
    parser.add_argument("--engine-setting", help="the environment's engine: setting, as JSON")
    args = parser.parse_args(argv)
    setting = EngineSetting(**json.loads(args.engine_setting)) if args.engine_setting else None
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the parent's death or a stand-down
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    log = sys.stderr
    _say(log, f"watching parent {args.parent_pid} for {args.project}")
    why = wait_for_parent(args.fd, args.parent_pid)
    if why is None:
        _say(log, "stood down: the parent removed the instance itself")
        return 0
    _say(log, f"{why}; tearing down {args.project}")
    done = tear_down(args.project, volumes=not args.keep_volumes, log=log, engine_setting=setting)
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
