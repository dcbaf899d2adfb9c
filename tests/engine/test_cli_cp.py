"""``envkit cp`` on the real engine, both directions; a hostile tree in the container
(a symlink to the host's /etc) does not lead outside the destination."""

from __future__ import annotations

import os
from pathlib import Path

from .conftest import StackFile, busybox


def test_cp_both_directions(stack: StackFile, tmp_path: Path) -> None:
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox(
            "app",
            command="mkdir -p /conf/sub && echo a > /conf/a && echo b > /conf/sub/b && "
            "ln -s a /conf/rel && ln -s /etc/passwd /evil && sleep 3600",
        )
    )
    assert stack.cli("up", "e").code == 0
    out = tmp_path / "out"
    out.mkdir()
    one = stack.cli("cp", "e", "app:/conf/a", str(out / "a.txt"))
    assert one.code == 0, one.text
    assert (out / "a.txt").read_text() == "a\n"
    tree = stack.cli("cp", "e", "app:/conf", str(out))
    assert tree.code == 0, tree.text
    assert (out / "conf" / "sub" / "b").read_text() == "b\n"
    assert os.readlink(out / "conf" / "rel") == "a"

    evil = stack.cli("cp", "e", "app:/evil", str(out / "evil"))
    assert evil.code == 1 and "error[unsafe-archive]" in evil.err, evil.text
    assert not (out / "evil").exists()

    src = tmp_path / "up"
    src.mkdir()
    (src / "f").write_text("from host\n")
    os.symlink("f", src / "link")
    os.mkfifo(src / "pipe")  # would hang a naive reader: left out
    sent = stack.cli("cp", "e", str(src), "app:/tmp")
    assert sent.code == 0, sent.text
    assert "left out up/pipe" in sent.err
    renamed = stack.cli("cp", "e", str(src / "f"), "app:/tmp/g")
    assert renamed.code == 0, renamed.text
    ctr = stack.containers("e")[f"{stack.project('e')}-app-1"]
    check = ctr.exec_run(["sh", "-c", "cat /tmp/up/f /tmp/g; readlink /tmp/up/link"])
    assert check.output.decode() == "from host\nfrom host\nf\n"

    both = stack.cli("cp", "e", "app:/a", "app:/b")
    assert both.code == 2 and "one side of cp" in both.err
    missing = stack.cli("cp", "e", "app:/nope", str(out))
    assert missing.code == 1 and "has no /nope" in missing.err and "Traceback" not in missing.text
