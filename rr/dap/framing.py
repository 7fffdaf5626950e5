"""Debug Adapter Protocol framing: a header block with Content-Length, a blank line, JSON.

Only bytes move here; what a message means is messages.py's and adapter.py's
business. A malformed message is reported as BadMessage, after which the
stream is still usable when the header gave a length (the body is skipped);
a header that cannot be parsed leaves the stream at the next line, and the
reader resynchronises on the next header block.
"""

from __future__ import annotations

import json
import threading
from typing import BinaryIO

from rr.errors import RrError

HEADER_LENGTH = b"content-length"
MAX_HEADER_LINE = 1024
MAX_MESSAGE = 64 << 20


class StreamClosed(Exception):
    """The client closed its end (EOF)."""


class BadMessage(RrError):
    """A message that cannot be read: the message says what was wrong."""


class DapStream:
    """Reads requests from ``reader`` and writes messages to ``writer`` (thread-safe writes)."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO) -> None:
        self.reader = reader
        self.writer = writer
        self._lock = threading.Lock()

    def read(self) -> dict:
        """The next message as a JSON object; BadMessage for a broken one, StreamClosed at EOF."""
        length = self._read_header()
        body = self.reader.read(length)
        if len(body) < length:
            raise StreamClosed()
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BadMessage(f"message body is not JSON: {error}") from None
        if not isinstance(message, dict):
            raise BadMessage(f"message body is a JSON {type(message).__name__}, not an object")
        return message

    def _read_header(self) -> int:
        length: int | None = None
        problem = ""
        while True:
            line = self.reader.readline(MAX_HEADER_LINE)
            if not line:
                raise StreamClosed()
            if line in (b"\r\n", b"\n"):
                if problem:
                    raise BadMessage(problem)
                if length is None:
                    raise BadMessage("message header has no Content-Length")
                return length
            name, colon, value = line.decode("latin-1").strip().partition(":")
            if not colon:
                problem = problem or f"bad header line {line[:60].decode('latin-1')!r}"
            elif name.strip().lower().encode() == HEADER_LENGTH:
                text = value.strip()
                if not text.isdigit() or int(text) > MAX_MESSAGE:
                    problem = problem or f"bad Content-Length {text[:30]!r}"
                else:
                    length = int(text)

    def write(self, message: dict) -> None:
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        with self._lock:
            self.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.writer.flush()
