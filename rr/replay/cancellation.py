"""Stopping a long timeline operation from outside: Ctrl-C, a gdb interrupt, a starved guest.

Whoever can interrupt owns a ``Cancellation`` and hands it to each timeline
operation it starts (``Timeline.seek(..., cancel=...)``); the timeline checks
it at the end of every slice of execution and while the guest idles, and
raises ``Interrupted`` there. An operation given no cancellation runs to its
end. A cancellation stays requested until its owner resets it, so a request
that arrives between two operations of one command stops the next one.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from rr.errors import RrError

INTERRUPTED = "interrupted"          # the user asked (Ctrl-C in the REPL or in gdb)


class Interrupted(RrError):
    """A long timeline operation was stopped before it finished.

    ``why``: "interrupted" (the user), or what else stopped it (a live guest
    waiting for input nobody can give while a command runs). ``searched_back_to``:
    for a backward search, the earliest position from which everything up to
    where it started was searched without a hit (None if no stretch was done)."""

    def __init__(self, message: str, why: str = INTERRUPTED) -> None:
        super().__init__(message)
        self.why = why
        self.searched_back_to: int | None = None


class Cancellation:
    """A request to stop, set from anywhere (a signal handler too) or found by polling.

    ``poll`` is asked whenever the timeline checks (a gdb stub looks at its
    socket for Ctrl-C there); it returning True counts as a user interrupt.
    """

    def __init__(self, poll: Callable[[], bool] | None = None) -> None:
        self._poll = poll
        self._why: str | None = None

    def cancel(self, why: str = INTERRUPTED) -> None:
        """Ask the running operation to stop at its next check (safe from a signal handler)."""
        self._why = why

    def reset(self) -> None:
        """Forget an earlier request: a new command starts."""
        self._why = None

    @property
    def why(self) -> str | None:
        """Why a stop was asked for; None while nothing has asked."""
        if self._why is None and self._poll is not None and self._poll():
            self._why = INTERRUPTED
        return self._why

    def requested(self) -> bool:
        return self.why is not None

    def check(self, position: int) -> None:
        """Raise Interrupted (saying where) if a stop was asked for."""
        why = self.why
        if why is not None:
            raise Interrupted(f"{why} at instruction {position}", why)


class CtrlC:
    """Ctrl-C for commands with no SIGINT handler of their own (``rrvm replay``,
    ``index``, ``trace``, a REPL's ``-c``): it raises KeyboardInterrupt, caught once
    by rr/cli.py.

    Python raises that exception in whatever code runs when the signal lands. In a
    finalizer (an engine's saved context freed by the garbage collector) it is only
    reported and dropped, and the command would go on to its end. So the request is
    also latched here: loops between units of work (the segments of a search) call
    ``check``, which raises it again; the report of the dropped one is silenced."""

    def __init__(self) -> None:
        self.requested = False
        self._hooked = False
        self._deferred = False

    def install(self) -> None:
        """From the main thread, at a command's start (again for each command run in
        one process: a request from an earlier one is forgotten)."""
        self.requested = False
        if threading.current_thread() is not threading.main_thread():
            return                   # a command run from a test's thread keeps Python's handling
        signal.signal(signal.SIGINT, self._on_signal)
        if not self._hooked:
            self._hooked = True
            default_hook = sys.unraisablehook

            def hook(unraisable: Any) -> None:
                if not isinstance(unraisable.exc_value, KeyboardInterrupt):
                    default_hook(unraisable)
            sys.unraisablehook = hook

    def _on_signal(self, _signum: int, _frame: Any) -> None:
        self.requested = True
        if not self._deferred:
            raise KeyboardInterrupt

    @contextmanager
    def deferred(self, check_after: bool = True) -> Iterator[None]:
        """Within: Ctrl-C only latches, and the code inside calls ``check`` between its
        steps; ``check_after``: leaving checks too (unless an exception is on its way).
        For code that works with a worker pool's futures: raised at whatever
        instruction the signal lands on, the exception could leave a future's lock
        held (between its acquire and the ``with`` that releases it), and the pool's
        shutdown then waited for ever (tests/replay/test_long_trace.py,
        ``test_ctrl_c_stops_the_workers``)."""
        outer, self._deferred = self._deferred, True
        try:
            yield
        finally:
            self._deferred = outer
        if check_after:
            self.check()

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C came and was swallowed somewhere."""
        if self.requested:
            raise KeyboardInterrupt


CTRL_C = CtrlC()
