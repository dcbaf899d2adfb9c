"""``envkit images``, ``build`` and ``pull`` on the real engine. A pull goes only to a
registry address on 127.0.0.1 where nothing listens (no traffic leaves the host)."""

from __future__ import annotations

from .conftest import IMAGE, StackFile, busybox


def test_images_build_and_pull(stack: StackFile) -> None:
    (stack.dir / "app").mkdir()
    (stack.dir / "app" / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN echo built > /built\n")
    built = f"envkit-test/{stack.name}:1"
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("db")
        + f"  app:\n    image: {built}\n    build: ./app\n"
        + "  far:\n    image: 127.0.0.1:1/nothing/here:1\n"
    )
    try:
        listed = stack.cli("images", "e")
        assert listed.code == 0, listed.text
        rows = {line.split()[0]: line.split() for line in listed.out.splitlines()[1:]}
        assert rows["db"][1] == IMAGE and rows["db"][-1] == "yes" and rows["db"][3].endswith("B")
        assert rows["app"] == ["app", built, "-", "-", "no"]

        b = stack.cli("build", "e")
        assert b.code == 0, b.text
        assert "db: uses the image" in b.err and f"app: built {built}" in b.err
        assert stack.cli("images", "e", "app").out.splitlines()[1].split()[-1] == "yes"

        skipped = stack.cli("pull", "e", "app")
        assert skipped.code == 0 and "not pulled" in skipped.err
        failed = stack.cli("pull", "e", "far")
        assert failed.code == 1, failed.text
        assert "127.0.0.1:1/nothing/here:1" in failed.err and "Traceback" not in failed.err
        bad = stack.cli("images", "e", "nope")
        assert bad.code == 2 and "has no service 'nope'" in bad.err
    finally:
        stack.client.images.remove(built, force=True) if stack.client.images.list(built) else None
