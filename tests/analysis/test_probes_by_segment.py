"""Analyses that read values at each hit give the same answers when history is searched
by index segment on workers as when it is run from its start here.

The values are read by a probe (rr.replay.hits.Probe: logpoint expressions and the
symbols they name, diff's trap CSRs), which goes to the workers as data. The demo
guest (its crash run: some 40 timer traps, and a call of `think` every few
thousand instructions) is indexed every 100,000 instructions: a few segments.
"""

from __future__ import annotations

import subprocess

import pytest

from analysis_helpers import DEMO_CRASH_NS, REPO, record_fixed
from rr.analysis.diff import trap_entries
from rr.analysis.logpoints import logpoint
from rr.analysis.subject import Subject, image_symbols, open_trace
from rr.log.trace_reader import TraceReader
from rr.replay.checkpoint_index import open_index
from rr.replay.replay_session import ReplaySession
from rr.replay.segments import SegmentSearch
from rr.replay.timeline import Timeline

EVERY = 100_000
RRVM = ["python3", "-m", "rr"]
LOGPOINT = ("think", ["$a0", "$ra", "$sp", "*$sp", "$sepc"])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    trace = record_fixed(tmp_path_factory.mktemp("demo") / "demo.rrt", "demo",
                         wall_ns=DEMO_CRASH_NS)
    proc = subprocess.run([*RRVM, "index", str(trace), "--every", str(EVERY)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return trace


class CountedSearch(SegmentSearch):
    """A segment search that counts the searches given to it (to see they were split)."""

    searches = 0

    def all_hits(self, *args, **options):
        self.searches += 1
        return super().all_hits(*args, **options)


def split(trace, jobs: int = 2) -> Subject:
    """The trace with its index, its searches split by segment over ``jobs`` processes."""
    reader = TraceReader(trace)
    index = open_index(reader, pytest.fail)
    assert index is not None and len(index.positions) >= 3
    timeline = Timeline(ReplaySession(reader, lambda data: None), index=index,
                        warn=pytest.fail)
    timeline.search = CountedSearch(trace, index, jobs=jobs)
    return Subject(timeline, image_symbols(timeline))


def test_trap_entries_are_the_same_split_by_segment(demo):
    sequential = trap_entries(open_trace(str(demo)))
    assert len(sequential) > 20 and len({entry.sepc for entry in sequential}) > 1
    subject = split(demo)
    try:
        assert trap_entries(subject) == sequential
        assert subject.timeline.search.searches == 1
    finally:
        subject.timeline.search.close()
    assert subject.timeline.index is not None           # used, and not dropped


def test_logpoint_values_are_the_same_split_by_segment(demo):
    location, expressions = LOGPOINT
    sequential = logpoint(open_trace(str(demo)), location, expressions)
    assert len(sequential.hits) > 20
    assert len({hit.values for hit in sequential.hits}) > 1       # values that differ
    subject = split(demo)
    try:
        here = subject.timeline.position
        assert logpoint(subject, location, expressions) == sequential
        assert subject.timeline.search.searches == 1 and subject.timeline.position == here
    finally:
        subject.timeline.search.close()


def test_rrvm_trace_prints_the_same_on_two_jobs(demo):
    location, expressions = LOGPOINT
    words = [*RRVM, "trace", str(demo), location, *expressions, "--csv"]
    split_run = subprocess.run([*words, "-j", "2"], cwd=REPO, capture_output=True, text=True,
                               timeout=120)
    plain = subprocess.run([*words, "--no-index"], cwd=REPO, capture_output=True, text=True,
                           timeout=120)
    assert split_run.returncode == plain.returncode == 0, split_run.stderr
    assert split_run.stderr == "" and split_run.stdout == plain.stdout
    assert len(plain.stdout.splitlines()) > 20
