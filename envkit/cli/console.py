"""Where a command writes: data to stdout, progress and errors to stderr, all redacted."""

from __future__ import annotations

from typing import TextIO

from envkit.errors import redact

__all__ = ["Console"]


class Console:
    """Where a command writes: data to ``out``, everything else to ``err``. Every write is
    redacted with the secrets known so far (they are learnt as environments render)."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out_stream = out
        self.err_stream = err
        self.secrets: set[str] = set()
        self.printed_json = False

    def out(self, text: str = "") -> None:
        self.out_stream.write(redact(text, self.secrets) + "\n")
        self.out_stream.flush()

    def out_json(self, document: object) -> None:
        """A command's JSON document on stdout. Remembered, so that a command which printed
        its own document before failing does not get a second one from ``main``."""
        import json

        self.out(json.dumps(document, indent=2))
        self.printed_json = True

    def err(self, text: str = "") -> None:
        self.err_stream.write(redact(text, self.secrets) + "\n")
        self.err_stream.flush()

    @property
    def err_is_tty(self) -> bool:
        return hasattr(self.err_stream, "isatty") and self.err_stream.isatty()
