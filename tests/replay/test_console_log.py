"""The guest's console output is printed once, however often history is re-executed."""

from __future__ import annotations

import random

import pytest

from rr.replay.hits import WatchKind, Watchpoint
from rr.replay.timeline import Timeline

from replay_helpers import demo_recording, open_session, uboot_recording

NOWHERE = 0x8700_0000


@pytest.fixture(scope="module", params=["uboot", "demo"])
def recording(request, tmp_path_factory):
    make = {"uboot": uboot_recording, "demo": demo_recording}[request.param]
    return make(tmp_path_factory)


def straight_output(trace, position: int) -> bytes:
    out: list[bytes] = []
    session = open_session(trace, out.append)
    session.loop.run(position)
    return b"".join(out)


def test_each_byte_reaches_the_sink_once(recording):
    end = recording.final_icount
    out: list[bytes] = []
    timeline = Timeline(open_session(recording.trace, out.append), spacing=end // 20 + 1)
    rng = random.Random(11)
    # Wander: forwards into new history, back over printed output, forwards again.
    for target in (end // 2, end // 5, end // 2 + 1, end // 4, 3 * end // 4, 1, end // 3):
        timeline.seek(target)
        assert recording.stdout.startswith(b"".join(out))
    for _ in range(10):
        timeline.seek(rng.randrange(end))
    timeline.reverse_step(3)
    timeline.step(7)
    timeline.run_backward(breakpoints=[NOWHERE])              # a search over all history
    timeline.all_hits(watchpoints=[Watchpoint(NOWHERE, 8)])
    timeline.run_forward(breakpoints=[NOWHERE])               # to the end
    assert timeline.at_end
    timeline.seek(end // 2)
    timeline.seek(end)
    assert b"".join(out) == recording.stdout


def test_text_until_is_the_output_so_far(recording):
    end = recording.final_icount
    timeline = Timeline(open_session(recording.trace, lambda data: None), spacing=end // 10 + 1)
    timeline.seek(end)
    console = timeline.session.console
    full = console.text_until(end + 1)
    assert full == recording.stdout
    previous = b""
    for position in sorted(random.Random(5).sample(range(end), 6)) + [end]:
        text = console.text_until(position)
        assert full.startswith(text) and text.startswith(previous)
        previous = text
    for position in (end // 7, end // 2):
        assert console.text_until(position) == straight_output(recording.trace, position)
    # Going back does not forget what was printed after the position.
    timeline.seek(end // 3)
    assert console.text_until(end + 1) == full


def test_stopping_on_the_console_store_prints_each_byte_once(tmp_path_factory):
    """A write watchpoint on the UART's transmit register stops on each console store."""
    demo = demo_recording(tmp_path_factory)
    out: list[bytes] = []
    timeline = Timeline(open_session(demo.trace, out.append), spacing=50_000)
    thr = Watchpoint(0x1000_0000, 1, WatchKind.WRITE)
    hits = [timeline.run_forward(watchpoints=[thr]) for _ in range(6)]
    assert all(hit is not None for hit in hits)
    assert [h.icount for h in hits] == sorted({h.icount for h in hits})
    console = timeline.session.console
    for count, hit in enumerate(hits):
        # Stopped before the store: the byte it writes is not yet in the output.
        assert console.text_until(hit.icount) == demo.stdout[:count]
    timeline.step(1)
    assert console.text_until(timeline.position) == demo.stdout[:len(hits)]
    timeline.seek(hits[2].icount)
    timeline.run_forward(breakpoints=[NOWHERE])
    assert b"".join(out) == demo.stdout
