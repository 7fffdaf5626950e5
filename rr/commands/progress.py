"""One updating status line on stderr while a long recording runs.

Shown only when stderr is a terminal and stdout is not: otherwise the guest's
console owns the terminal and a status line would be mixed into its output.
A daemon thread samples the instruction count and the trace size once per
second; it never touches the board beyond reading ``cpu.icount``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Callable, TextIO

INTERVAL = 1.0
CLEAR_LINE = "\r\x1b[K"


def wanted(stdout: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """True when stderr is a terminal and stdout is not."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    return _isatty(stderr) and not _isatty(stdout)


def _isatty(stream: TextIO) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False


class Progress:
    """``with Progress(icount, size): run()`` prints "N instructions, M instr/s, trace X"."""

    def __init__(self, icount: Callable[[], int], trace_bytes: Callable[[], int],
                 stream: TextIO | None = None, interval: float = INTERVAL) -> None:
        self._icount = icount
        self._trace_bytes = trace_bytes
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

    def __enter__(self) -> "Progress":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        last_time, last_icount = time.monotonic(), self._icount()
        while not self._stop.wait(self._interval):
            now, icount = time.monotonic(), self._icount()
            rate = (icount - last_icount) / max(now - last_time, 1e-9) / 1e6
            last_time, last_icount = now, icount
            self._write(f"{CLEAR_LINE}rrvm: recording: {line(icount, rate, self._trace_bytes())}")
            self._shown = True

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            pass


def line(icount: int, mips: float, trace_bytes: int) -> str:
    return f"{icount:,} instructions, {mips:.1f} M instr/s, trace {_size(trace_bytes)}"


def _size(count: int) -> str:
    if count < 1 << 20:
        return f"{count / 1024:.1f} KiB"
    return f"{count / (1 << 20):.1f} MiB"
