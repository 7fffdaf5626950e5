"""Questions about history, asked of a Timeline: the one layer every client shares.

gdb's `monitor` commands and the REPL ask the same questions (the recorded
events around now, the last write to a range before now, every write to it
with the values before and after); they are answered here once, and a new
client (a script, a second protocol) asks them the same way. Clients only
format the answers.

Every query leaves the timeline where it found it: the position belongs to
the client (gdb's cached registers, the REPL's prompt). A query given a
``Cancellation`` stops at its next check when that is cancelled and raises
``Interrupted`` wherever it got to; going back is then the client's call
(the REPL goes back to where the command started).

Watched ranges are ``Watchpoint``s on virtual addresses that follow the
guest's address spaces, or on physical ones (``space``; rr.replay.hits,
docs/watchpoints.md). The values of a write (the range before and after, the
instruction) are what the write hook saw, so a query over many writes runs
history once and seeks nowhere.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence

from rr.log.events import Event
from rr.replay.cancellation import Cancellation
from rr.replay.hits import Hit, Watchpoint, WatchKind, WatchSpace
from rr.replay.timeline import Timeline


EVENTS_AROUND = 5            # events shown on each side of now unless a client asks otherwise


@dataclass(frozen=True)
class EventWindow:
    """Recorded events around a position: ``events[first:last]``, split at ``split``,
    the first event at or after ``now``."""

    events: Sequence[Event]
    now: int
    first: int
    split: int
    last: int

    @property
    def before(self) -> Sequence[Event]:
        return self.events[self.first:self.split]

    @property
    def after(self) -> Sequence[Event]:
        return self.events[self.split:self.last]


def events_around(events: Sequence[Event], now: int, count: int | None) -> EventWindow:
    """``count`` events on each side of ``now`` (None: all of them)."""
    split = bisect.bisect_left(events, now, key=_icount)
    if count is None:
        return EventWindow(events, now, 0, split, len(events))
    return EventWindow(events, now, max(0, split - count), split, min(len(events), split + count))


def _icount(event: Event) -> int:
    return event.icount


def recorded_events(timeline: Timeline) -> Sequence[Event]:
    """The inputs of history so far, in order (a trace's, or a live guest's log)."""
    return timeline.session.inputs.events


@dataclass(frozen=True)
class Write:
    """One instruction that wrote a watched range."""

    icount: int                  # the instruction that wrote (before it executes)
    pc: int
    address: int                 # the data address of the access
    old: bytes | None            # the watched range before and after (None: unreadable)
    new: bytes | None
    instruction: bytes | None    # the instruction's bytes at pc then (None: unreadable)


def last_write(timeline: Timeline, address: int, length: int,
               cancel: Cancellation | None = None,
               space: WatchSpace = WatchSpace.VIRTUAL) -> Write | None:
    """The last instruction before now that wrote any byte of the range."""
    hit = timeline.last_hit(watchpoints=[Watchpoint(address, length, WatchKind.WRITE, space)],
                            cancel=cancel)
    return None if hit is None else write_of(hit)


def writes(timeline: Timeline, address: int, length: int,
           cancel: Cancellation | None = None,
           space: WatchSpace = WatchSpace.VIRTUAL) -> list[Write]:
    """Every instruction that wrote the range over the whole of history (so far, for a
    live guest), in order, each once."""
    hits = timeline.all_hits(watchpoints=[Watchpoint(address, length, WatchKind.WRITE, space)],
                             cancel=cancel)
    seen: set[int] = set()
    result = []
    for hit in hits:
        if hit.icount not in seen:
            seen.add(hit.icount)
            result.append(write_of(hit))
    return result


def write_of(hit: Hit) -> Write:
    """The write of a watchpoint's write ``hit``, with the values its hook saw."""
    store = hit.store
    if store is None:
        raise ValueError(f"the hit at instruction {hit.icount} is not a write")
    return Write(hit.icount, store.pc, hit.address, store.old, store.new, store.instruction)


def value_changes(base: int, length: int, address: int, old: bytes | None,
                  new: bytes | None) -> list[tuple[int, str, str]]:
    """(address, before, after) of each changed word of the range; the written word if none."""
    if old is None or new is None:
        show = lambda data: "?" if data is None else f"{int.from_bytes(data, 'little'):#x}"  # noqa: E731
        return [(base, show(old), show(new))]
    if length in (1, 2, 4, 8):
        unit = length
    else:
        unit = 8 if length % 8 == 0 else 1
    pieces = []
    written = None
    for offset in range(0, length, unit):
        before = int.from_bytes(old[offset:offset + unit], "little")
        after = int.from_bytes(new[offset:offset + unit], "little")
        if base + offset <= address < base + offset + unit:
            written = (base + offset, f"{before:#x}", f"{after:#x}")
        if before != after:
            pieces.append((base + offset, f"{before:#x}", f"{after:#x}"))
    if not pieces:
        pieces = [written or (base, f"{int.from_bytes(old[:unit], 'little'):#x}",
                              f"{int.from_bytes(new[:unit], 'little'):#x}")]
    return pieces
