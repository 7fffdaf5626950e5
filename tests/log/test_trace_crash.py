"""A recorder killed with SIGKILL leaves a trace that opens and replays up to its last flush."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rr.log import ClockRead, TraceReader, TraceTruncated

REPO = Path(__file__).resolve().parents[2]
HELPERS = Path(__file__).resolve().parent

CHILD = textwrap.dedent("""
    import sys, time
    sys.path[:0] = [{repo!r}, {helpers!r}]
    from rr.log import ClockRead, TraceWriter
    from trace_helpers import make_header

    writer = TraceWriter(sys.argv[1], make_header(), max_events={max_events},
                         flush_interval=3600)
    mode = sys.argv[2]
    for i in range(50):
        writer.write(ClockRead(i * 100, i))
    writer.flush()
    print("flushed", flush=True)
    if mode == "buffered":
        for i in range(50, 80):             # written, never flushed: lost with the process
            writer.write(ClockRead(i * 100, i))
        print("buffered", flush=True)
        time.sleep(60)
    else:
        i = 50
        while True:                         # chunks of 10 keep coming until the kill
            writer.write(ClockRead(i * 100, i))
            if i % 100 == 0:
                print(i, flush=True)
            i += 1
""")


def _record_and_kill(path: Path, mode: str, max_events: int, lines: int) -> None:
    script = CHILD.format(repo=str(REPO), helpers=str(HELPERS), max_events=max_events)
    child = subprocess.Popen([sys.executable, "-c", script, str(path), mode],
                             stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(lines):
            assert child.stdout.readline(), "the recorder died before it was killed"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()


def test_killed_after_a_flush_yields_the_flushed_events(tmp_path):
    path = tmp_path / "killed.rrt"
    _record_and_kill(path, "buffered", max_events=4096, lines=2)
    with TraceReader(path) as reader:
        assert not reader.complete and reader.footer is None
        assert list(reader.events()) == [ClockRead(i * 100, i) for i in range(50)]
        assert reader.problems


def test_killed_while_writing_yields_a_prefix_of_whole_chunks(tmp_path):
    path = tmp_path / "killed-busy.rrt"
    _record_and_kill(path, "busy", max_events=10, lines=4)
    with TraceReader(path) as reader:
        events = list(reader.events())
    assert not reader.complete
    assert events == [ClockRead(i * 100, i) for i in range(len(events))]
    assert len(events) % 10 == 0 and len(events) >= 300


def test_killed_trace_refused_in_strict_mode(tmp_path):
    path = tmp_path / "killed-strict.rrt"
    _record_and_kill(path, "buffered", max_events=4096, lines=1)
    with pytest.raises(TraceTruncated, match="no footer"):
        TraceReader(path, strict=True)
