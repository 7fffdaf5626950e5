"""A session is assembled once: payload settled once, the hart bound to the inputs after
the board is built, and a live guest's history replayed (not logged again) when revisited.

The live source here has a host clock that never repeats a value, so any input taken
from it twice, or replayed at another position, changes the state digests compared.
Set RRVM_SESSION_SEED to replay a failing order.
"""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

import rr.monitor.board as board_module
from rr.log.events import ClockRead
from rr.monitor.board import BootPayload, settle_payload
from rr.monitor.board_config import BoardConfig
from rr.monitor.inputs import InputSource
from rr.monitor.loader import load_image
from rr.monitor.state_digest import state_digest
from rr.replay.live_session import LiveSession
from rr.replay.timeline import Timeline

GUESTS = Path(__file__).resolve().parents[2] / "guests" / "bin"
SEED = int(os.environ.get("RRVM_SESSION_SEED", "20261201"))


class TickingInputs(InputSource):
    """A host whose clock moves on at every read; no console."""

    def __init__(self) -> None:
        self.ticks = itertools.count(1_000_000_000, 1_234_567)

    def console_bytes(self, icount, max_bytes):
        return b""

    def wait_console(self, timeout):
        pass

    def host_time_ns(self, icount):
        return next(self.ticks)

    def wall_time_ns(self, icount):
        return next(self.ticks)

    def entropy(self, icount, size):
        return bytes(size)

    def quit_requested(self, icount):
        return False

    def console_closed(self, icount):
        return True


def live_session(output: list[bytes]) -> LiveSession:
    config = BoardConfig(clock="host")
    payload = settle_payload(config, BootPayload(load_image(str(GUESTS / "timer.elf"))))
    return LiveSession(config, payload, TickingInputs(), output.append)


def test_a_settled_payload_is_not_settled_again(monkeypatch):
    config = BoardConfig()
    payload = settle_payload(config, BootPayload(load_image(str(GUESTS / "hello.elf"))))

    def settle_again(*args):
        raise AssertionError("the payload was settled twice")

    monkeypatch.setattr(board_module, "settle_payload", settle_again)
    session = LiveSession(config, payload, TickingInputs(), lambda data: None)
    assert session.board.payload is payload


def test_inputs_carry_the_pc_once_the_board_is_built():
    session = live_session([])
    first = session.inputs.events
    assert len(first) == 1 and isinstance(first[0], ClockRead)
    assert (first[0].icount, first[0].pc) == (0, None)      # the host clock's start
    session.loop.run(20_000)
    reads = [event for event in session.inputs.events[1:] if isinstance(event, ClockRead)]
    assert reads, "timer.elf reads the clock within 20,000 instructions"
    assert all(event.pc is not None for event in reads)


def test_revisited_live_history_replays_what_was_observed():
    output: list[bytes] = []
    session = live_session(output)
    timeline = Timeline(session, spacing=3_000)
    rng = random.Random(SEED)
    positions = sorted(rng.sample(range(1, 40_000), 12))
    straight = {}
    for position in positions:               # first time: live, in increasing order
        timeline.seek(position)
        straight[position] = state_digest(session.board)
    events = list(session.inputs.events)
    printed = b"".join(output)
    assert events and printed
    order = positions * 2
    rng.shuffle(order)
    for position in order:                   # again, back and forth: replayed
        timeline.seek(position)
        assert state_digest(session.board) == straight[position], (SEED, position)
    assert session.inputs.events == events
    assert b"".join(output) == printed       # printed once however often it is re-run
