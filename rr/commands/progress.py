"""One updating status line on stderr while a long operation runs.

A recording, the building of a checkpoint index, a search split over
workers. A recording's line is shown only when stderr is a terminal and
stdout is not: otherwise the guest's console owns the terminal and a status
line would be mixed into its output. A daemon thread samples what the line
shows once per second; it never touches the board beyond reading
``cpu.icount``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Callable, TextIO

from rr.printable import byte_size

INTERVAL = 1.0
CLEAR_LINE = "\r\x1b[K"


def wanted(stdout: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """True when stderr is a terminal and stdout is not."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    return _isatty(stderr) and not _isatty(stdout)


def on_terminal(stderr: TextIO | None = None) -> bool:
    """True when stderr is a terminal (a command that owns the terminal, like the REPL)."""
    return _isatty(stderr or sys.stderr)


def _isatty(stream: TextIO) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False


class StatusLine:
    """``with StatusLine(text): work()`` shows "rrvm: " + text() once per ``interval``."""

    def __init__(self, text: Callable[[], str], stream: TextIO | None = None,
                 interval: float = INTERVAL) -> None:
        self._text = text
        self._stream = stream or sys.stderr
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="record-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and erase the line, so nothing after it lands mid-line."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        if self._shown:
            self._write(CLEAR_LINE)

    def __enter__(self) -> "StatusLine":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._write(f"{CLEAR_LINE}rrvm: {self._text()}")
            self._shown = True

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            pass


class Rate:
    """Millions of instructions per second since the previous call."""

    def __init__(self, icount: Callable[[], int]) -> None:
        self._icount = icount
        self._time, self._last = time.monotonic(), icount()

    def __call__(self) -> float:
        now, icount = time.monotonic(), self._icount()
        rate = (icount - self._last) / max(now - self._time, 1e-9) / 1e6
        self._time, self._last = now, icount
        return rate


def Progress(icount: Callable[[], int], trace_bytes: Callable[[], int],  # noqa: N802
             stream: TextIO | None = None, interval: float = INTERVAL) -> StatusLine:
    """A recording's line: "recording: N instructions, M instr/s, trace X"."""
    rate = Rate(icount)
    return StatusLine(lambda: f"recording: {line(icount(), rate(), trace_bytes())}",
                      stream, interval)


def indexing(icount: Callable[[], int], total: int | None, index_bytes: Callable[[], int],
             stream: TextIO | None = None, interval: float = INTERVAL) -> StatusLine:
    """Building a checkpoint index: "indexing: N of M instructions (P%), R instr/s, index X"."""
    rate = Rate(icount)

    def text() -> str:
        done = icount()
        of = f" of {total:,} ({100 * done / total:.0f}%)" if total else ""
        return (f"indexing: {done:,}{of} instructions, {rate():.1f} M instr/s, "
                f"index {byte_size(index_bytes())}")
    return StatusLine(text, stream, interval)


def segments(done: Callable[[], int], total: int, what: str,
             stream: TextIO | None = None, interval: float = INTERVAL) -> StatusLine:
    """A search split by segment: "when: 3 of 50 segments searched (2 workers)"."""
    return StatusLine(lambda: f"{what}: {done()} of {total} segments done", stream, interval)


def line(icount: int, mips: float, trace_bytes: int) -> str:
    return f"{icount:,} instructions, {mips:.1f} M instr/s, trace {byte_size(trace_bytes)}"

