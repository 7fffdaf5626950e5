"""TraceEvents: a trace's events by number, decoded a few chunks at a time."""

from __future__ import annotations

import random

import pytest

from rr.log import ConsoleInput, GuestExit, TraceCorrupt, TraceReader
from rr.log.event_sequence import CACHED_CHUNKS, TraceEvents

from trace_helpers import trace_at

EVENTS = [ConsoleInput(3 * i, bytes([i % 256]), pc=0x8020_0000 + i) for i in range(500)]


def test_random_access_slices_and_iteration_match_the_stream(tmp_path):
    path = trace_at(tmp_path, EVENTS, max_events=17)
    with TraceReader(path) as reader:
        events = TraceEvents(reader)
        assert len(events) == len(EVENTS) and list(events) == EVENTS
        rng = random.Random(5)
        for _ in range(300):
            n = rng.randrange(-len(EVENTS), len(EVENTS))
            assert events[n] == EVENTS[n]
            assert len(events._cache) <= CACHED_CHUNKS      # memory follows the chunk size
        assert events[120:140] == EVENTS[120:140] and events[-3:] == EVENTS[-3:]
        with pytest.raises(IndexError):
            events[len(EVENTS)]
        assert events.verify() == {"console_input": len(EVENTS)}


def test_nothing_may_follow_the_guest_exit(tmp_path):
    path = trace_at(tmp_path, [GuestExit(10, "poweroff"), ConsoleInput(12, b"x")])
    with TraceReader(path) as reader:
        with pytest.raises(TraceCorrupt, match=r"event 1 \(console_input at instruction 12\) "
                                               r"follows the guest_exit \(event 0\)"):
            TraceEvents(reader).verify()
