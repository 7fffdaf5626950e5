"""Replay: the recorded inputs handed back at the instruction counts where they were logged.

The other implementation of ``InputSource`` (recording is rr/record/recording_inputs.py).
The events form one ordered stream, in the order the monitor asked for them
while recording, and the replayed monitor asks in the same order as long as
the guest does the same thing:

- a read (host clock, wall clock, entropy) must find an event of its kind at
  this instruction count next in the stream;
- a query (console bytes, quit, console closed) takes the next event only if
  it is of its kind at this count, and otherwise answers "nothing";
- an event left behind (its count passed without the monitor asking for
  it) and a pc that differs from the recorded one are divergences;
- a guest waiting for input (the monitor calls ``wait_console``) with no
  event left at this position will never get any: a divergence, or, when
  the trace was cut off, the end of recorded history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rr.log.events import (ClockRead, ConsoleClosed, ConsoleInput, Entropy, Event, GuestExit,
                           Progress, UserQuit, WallClockRead)
from rr.errors import RrError
from rr.monitor.inputs import InputSource
from rr.replay.divergence import EndOfHistory, divergence


class ReplayInputs(InputSource):
    def __init__(self, events: Sequence[Event], complete: bool = True) -> None:
        # A list (a live session appends to it) or a trace's TraceEvents, which
        # decodes a chunk at a time.
        self.events = events
        self.complete = complete           # False: the recording was cut off after the last event
        self.cursor = 0                    # index of the next event to replay
        self._asked_at = 0                 # instruction count of the latest query
        self._quit = False
        self._closed = False

    @property
    def _next(self) -> Event | None:
        """The next recorded event not yet replayed (progress markers are passed over:
        they are not inputs)."""
        events = self.events
        while self.cursor < len(events) and isinstance(events[self.cursor], Progress):
            self.cursor += 1
        return events[self.cursor] if self.cursor < len(events) else None

    @property
    def last_match(self) -> Event | None:
        """The last input handed back (not a progress marker)."""
        index = self.cursor - 1
        while index >= 0 and isinstance(self.events[index], Progress):
            index -= 1
        return self.events[index] if index >= 0 else None

    def _advance(self, event: Event) -> Event:
        self.cursor += 1
        return event

    @property
    def replayed_all(self) -> bool:
        """Every event in the stream has been handed back."""
        return self._next is None

    def observed(self, event: Event) -> None:
        """An input the guest has just observed live (rr/replay/live_edge_inputs.py): it
        joins the stream as already replayed, so going back in time replays it."""
        self.events.append(event)
        self.cursor = len(self.events)

    def get_state(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "quit": self._quit, "closed": self._closed}

    def set_state(self, state: dict[str, Any]) -> None:
        self.cursor, self._quit, self._closed = state["cursor"], state["quit"], state["closed"]

    def _fail(self, what: str, icount: int) -> RrError:
        if self._next is None and not self.complete:
            return EndOfHistory(f"the recording was cut off after instruction {icount}")
        return divergence(what, icount, self.pc(), self._next, self.last_match)

    def _check_pc(self, event: Event, icount: int) -> None:
        if event.pc is not None and event.pc != self.pc():
            raise self._fail(f"the guest is at another pc than when {event.KIND} was recorded",
                             icount)
        if event.hart is not None and event.hart != self.hart():
            raise self._fail(f"another hart runs than when {event.KIND} was recorded "
                             f"(hart {self.hart()}, recorded hart {event.hart})", icount)

    def _passed(self, icount: int) -> None:
        if self._next is not None and self._next.icount < icount:
            raise self._fail(f"the recorded {self._next.KIND} was never asked for", icount)

    def _take(self, kind: type[Event], icount: int) -> Event:
        """The next event, which must be a ``kind`` at ``icount``."""
        self._passed(icount)
        event = self._next
        if not isinstance(event, kind) or event.icount != icount:
            raise self._fail(f"the guest read its {kind.KIND.replace('_', ' ')}", icount)
        self._check_pc(event, icount)
        return self._advance(event)

    def _match(self, kind: type[Event], icount: int) -> Event | None:
        """The next event if it is a ``kind`` at ``icount``, else None."""
        self._passed(icount)
        self._asked_at = icount
        event = self._next
        if isinstance(event, kind) and event.icount == icount:
            self._check_pc(event, icount)
            return self._advance(event)
        return None

    # --- InputSource --------------------------------------------------------
    def console_bytes(self, icount: int, max_bytes: int) -> bytes:
        event = self._match(ConsoleInput, icount)
        if event is None:
            return b""
        if len(event.data) > max_bytes:
            raise self._fail(f"the UART has room for {max_bytes} bytes, the recording fed "
                             f"{len(event.data)}", icount)
        return event.data

    def wait_console(self, timeout: float | None) -> None:
        """Live, the wait ended with something at this same position; replay has it or never will."""
        event = self._next
        if event is None or event.icount != self._asked_at:
            raise self._fail("the guest waits for input that was not recorded here", self._asked_at)

    def host_time_ns(self, icount: int) -> int:
        return self._take(ClockRead, icount).ns

    def wall_time_ns(self, icount: int) -> int:
        return self._take(WallClockRead, icount).ns

    def entropy(self, icount: int, size: int) -> bytes:
        data = self._take(Entropy, icount).data
        if len(data) != size:
            raise self._fail(f"the guest asked for {size} random bytes, {len(data)} were recorded",
                             icount)
        return data

    def quit_requested(self, icount: int) -> bool:
        self._quit = self._quit or self._match(UserQuit, icount) is not None
        return self._quit

    def console_closed(self, icount: int) -> bool:
        self._closed = self._closed or self._match(ConsoleClosed, icount) is not None
        return self._closed

    # --- the end ------------------------------------------------------------
    def expect_exit(self, icount: int, kind: str, code: int) -> None:
        """The replayed run ended: it must end as recorded, with every event used."""
        event = self._next
        if not isinstance(event, GuestExit):
            self._passed(icount + 1)
            raise self._fail(f"the guest ended the run ({kind})", icount)
        if (event.icount, event.kind, event.code) != (icount, kind, code):
            raise self._fail(f"the guest ended the run ({kind}, code {code})", icount)
        self._check_pc(event, icount)
        self._advance(event)
        if self._next is not None:
            raise self._fail("the guest ended the run, but the recording goes on", icount)
