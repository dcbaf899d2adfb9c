"""The docker SDK without paramiko (its ssh transport) until an ssh endpoint needs it: a
local-socket client must not pay for paramiko, cryptography and nacl, and an ssh client
must still get the real paramiko (each case in a fresh interpreter: sys.modules). The same
for charset_normalizer, which requests imports to guess undeclared encodings and of which
it reads only the version at import. And one SDK client per engine, however many threads
make the first call."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_local_socket_client_does_not_import_paramiko() -> None:
    code = (
        "import sys\n"
        "from envkit.engine.docker_connect import make_client\n"
        "from envkit.engine.endpoint import parse_endpoint\n"
        "client = make_client(parse_endpoint('unix:///nonexistent.sock'), '1.41', 5)\n"
        "print(type(client).__mro__[1].__name__,"
        " sorted(m for m in ('paramiko', 'cryptography', 'nacl', 'invoke')"
        " if type(sys.modules.get(m)).__name__ == 'module'))\n"
    )
    assert run(code) == "APIClient []"


def test_the_sdk_client_does_not_load_charset_detection_until_a_guess_is_needed() -> None:
    code = (
        "import sys, warnings\n"
        "warnings.simplefilter('error')\n"  # requests' version check must stay quiet
        "from envkit.engine.docker_connect import make_client\n"
        "from envkit.engine.endpoint import parse_endpoint\n"
        "make_client(parse_endpoint('unix:///nonexistent.sock'), '1.41', 5)\n"
        "import requests, charset_normalizer\n"
        "from importlib.metadata import version\n"
        "print(type(sys.modules['charset_normalizer']).__name__, 'charset_normalizer.api' in sys.modules,"
        " charset_normalizer.__version__ == version('charset-normalizer'))\n"
        "r = requests.models.Response()\n"
        "r._content = 'déjà vu, encore'.encode('latin-1')\n"  # no charset declared: a guess
        "print(r.apparent_encoding is not None, type(sys.modules['charset_normalizer']).__name__)\n"
    )
    assert run(code).splitlines() == ["_Deferred False True", "True module"]


def test_a_version_the_file_does_not_state_plainly_defers_nothing(tmp_path: Any) -> None:
    package = tmp_path / "pkg_envkit_probe"
    package.mkdir()
    (package / "__init__.py").write_text("from .version import __version__\nLOADED = True\n")
    (package / "version.py").write_text("__version__ = '.'.join(['1', '2'])\n")
    plain = tmp_path / "plain_envkit_probe"
    plain.mkdir()
    (plain / "__init__.py").write_text("__version__ = '3.4'\nLOADED = True\n")
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "from envkit._lazy import defer_import\n"
        "defer_import('pkg_envkit_probe', version_file='version.py')\n"
        "defer_import('plain_envkit_probe', version_file='__init__.py')\n"
        "print('pkg_envkit_probe' in sys.modules)\n"
        "from plain_envkit_probe import __version__\n"  # answered by the stand-in
        "print(__version__, type(sys.modules['plain_envkit_probe']).__name__)\n"
        "from plain_envkit_probe import LOADED\n"  # anything else loads the package
        "print(LOADED, type(sys.modules['plain_envkit_probe']).__name__)\n"
    )
    assert run(code).splitlines() == ["False", "3.4 _Deferred", "True module"]


def test_first_use_imports_the_real_module() -> None:
    code = (
        "import sys\n"
        "from envkit._lazy import defer_import\n"
        "defer_import('paramiko')\n"
        "import docker, docker.transport.sshconn as ssh\n"
        "print('cryptography' in sys.modules)\n"
        "client = ssh.paramiko.SSHClient\n"  # how the SDK's ssh adapter reaches it
        "import paramiko\n"
        "from paramiko import SSHConfig\n"
        "print(paramiko is sys.modules['paramiko'], type(paramiko).__name__,"
        " client is paramiko.SSHClient, SSHConfig is paramiko.config.SSHConfig,"
        " 'cryptography' in sys.modules, hasattr(docker.transport, 'SSHHTTPAdapter'))\n"
    )
    assert run(code).splitlines() == ["False", "True module True True True True"]


def test_already_imported_or_missing_modules_are_left_alone() -> None:
    code = (
        "import sys, json\n"
        "from envkit._lazy import defer_import\n"
        "defer_import('json')\n"
        "defer_import('no_such_module_envkit')\n"
        "print(sys.modules['json'] is json, 'no_such_module_envkit' in sys.modules)\n"
        "try:\n"
        "    import no_such_module_envkit\n"
        "except ModuleNotFoundError:\n"
        "    print('not found')\n"
    )
    assert run(code).splitlines() == ["True False", "not found"]


def test_one_sdk_client_when_a_pool_makes_the_first_call(monkeypatch: Any) -> None:
    """down's first SDK call comes from its worker pool: one client, not one per worker."""
    from envkit.engine import docker as adapter

    made: list[int] = []

    def slow_client(*args: Any) -> object:
        made.append(1)
        time.sleep(0.05)  # long enough for every worker to arrive while it is made
        return object()

    monkeypatch.setattr(adapter, "make_client", slow_client)
    engine = adapter.DockerEngine("unix:///nonexistent.sock")
    with ThreadPoolExecutor(10) as pool:
        clients = set(pool.map(lambda _: id(engine._api()), range(10)))
    assert len(made) == 1 and len(clients) == 1
