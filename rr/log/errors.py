"""Errors about trace files.

A trace is read by people chasing a bug, often from a copy of a copy: when it
is damaged they need to know what is wrong and where, in one line, without a
traceback. Every problem is therefore a ``TraceError`` carrying the file and
the byte offset; the CLI prints ``str(error)`` and exits.
"""

from __future__ import annotations

import os

from rr.errors import RrError


class TraceError(RrError):
    """A trace that cannot be read (or written) as asked: names the file and the offset.

    Decoding helpers that do not know where their bytes came from raise it with
    no path; the reader catches it and raises a ``TraceCorrupt`` naming the
    file and the frame (with its offset) before the helper's words, so the
    user still gets the whole story on one line.
    """

    def __init__(self, what: str, path: str | os.PathLike[str] | None = None,
                 offset: int | None = None) -> None:
        self.what = " ".join(what.split())      # one line, whatever the cause said
        self.path = os.fspath(path) if path is not None else None
        self.offset = offset
        super().__init__(self._message())

    def _message(self) -> str:
        text = self.what
        if self.offset is not None and "offset" not in text:
            text = f"{text} at offset {self.offset}"
        return f"{self.path}: {text}" if self.path is not None else text


class TraceWriteError(TraceError):
    """The writer was misused or the disk refused: the trace on disk is not what was asked."""


class TraceTruncated(TraceError):
    """The file ends early: what was written before the end is still readable."""


class TraceCorrupt(TraceError):
    """Bytes that were written are wrong (a checksum, a size or a schema does not hold)."""


class TraceVersionError(TraceError):
    """A trace format this rrvm does not read (usually a newer one)."""
