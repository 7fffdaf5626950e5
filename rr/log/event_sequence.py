"""A trace's events as a sequence, decoded a chunk at a time.

A replay walks its events in order and a time-travel debugger jumps back
to any of them by number, so the replay engine wants a list; but a long
recording holds millions of events, and all of them decoded at once cost
tens of bytes of Python objects per byte of trace. ``TraceEvents`` gives
list-like access (``len``, ``events[n]``, slices, iteration) and keeps only
the few most recently used chunks decoded, so memory follows the chunk
size, not the trace length.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, overload

from rr.log.errors import TraceCorrupt
from rr.log.events import Event, GuestExit

if TYPE_CHECKING:
    from rr.log.trace_reader import TraceReader

# Decoded chunks kept: the one being replayed, the one before it (a step
# back), and a couple a debugger's searches touch.
CACHED_CHUNKS = 4


class TraceEvents(Sequence[Event]):
    """Every event of a reader's trace, numbered from 0 in stream order."""

    def __init__(self, reader: "TraceReader") -> None:
        self._reader = reader
        self._chunks = reader.index
        self._starts: list[int] = []        # number of the first event of each chunk
        total = 0
        for chunk in self._chunks:
            self._starts.append(total)
            total += chunk.event_count
        self._length = total
        self._cache: OrderedDict[int, list[Event]] = OrderedDict()

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            return [self[n] for n in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(f"event {index} of {self._length}")
        number = bisect.bisect_right(self._starts, index) - 1
        return self._chunk(number)[index - self._starts[number]]

    def __iter__(self) -> Iterator[Event]:
        """In order, a chunk at a time, without filling the cache."""
        for number, chunk in enumerate(self._chunks):
            events = self._cache.get(number)
            yield from events if events is not None else self._reader.chunk_events(chunk)

    def _chunk(self, number: int) -> list[Event]:
        events = self._cache.get(number)
        if events is None:
            events = self._reader.chunk_events(self._chunks[number])
            self._cache[number] = events
            if len(self._cache) > CACHED_CHUNKS:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(number)
        return events

    def verify(self) -> dict[str, int]:
        """Decode every chunk once (crc, sizes, schema, order) and check the stream as a
        whole: nothing follows the guest's exit. Returns the events by kind."""
        counts: dict[str, int] = {}
        exit_at: tuple[int, Event] | None = None
        for number, event in enumerate(self):
            if exit_at is not None:
                raise TraceCorrupt(f"event {number} ({event.KIND} at instruction "
                                   f"{event.icount}) follows the guest_exit (event "
                                   f"{exit_at[0]}), which ends the run", self._reader.path)
            if isinstance(event, GuestExit):
                exit_at = (number, event)
            counts[event.KIND] = counts.get(event.KIND, 0) + 1
        return counts
