"""Half a billion instructions: searches split by segment give the sequential answers.

guests/long runs 100 rounds of 5,000,004 instructions and writes the round
number to `progress` at the end of each; guests/long/run.S derives the
instruction count of every write from its entry e (found here with a
breakpoint). The trace is recorded and indexed once (every 10 M instructions:
51 checkpoints); `when` runs sequentially, on two local workers and on a Dask
LocalCluster, and all three must list exactly the writes the source predicts.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

from dataclasses import dataclass

import pytest
from elftools.elf.elffile import ELFFile

from rr.analysis.logpoints import logpoint
from rr.analysis.subject import open_trace
from rr.log.trace_reader import TraceReader
from rr.replay import queries
from rr.replay.checkpoint_index import index_path, open_index
from rr.replay.hits import Watchpoint, WatchKind, WatchSpace
from rr.replay.segments import SegmentSearch
from rr.replay.timeline import Timeline

from replay_helpers import BIN, REPO, RRVM, open_session, record

LONG = BIN / "long.elf"
ROUNDS = 100
PER_ROUND = 1_000_000
ROUND = 4 + 5 * PER_ROUND


def symbol(name: str) -> int:
    with open(LONG, "rb") as f:
        table = ELFFile(f).get_section_by_name(".symtab")
        return table.get_symbol_by_name(name)[0]["st_value"]


def rrvm(*args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([*RRVM, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, **options)


@pytest.fixture(scope="module")
def long_trace(tmp_path_factory):
    if not LONG.is_file():
        pytest.skip("guests/bin/long.elf not built")
    trace = tmp_path_factory.mktemp("long") / "long.rrt"
    rec = record(trace, LONG)
    assert rec.status == 0 and b"long: rounds=100" in rec.stdout
    with TraceReader(trace) as reader:
        assert reader.footer.final_icount >= 500_000_000
    proc = rrvm("index", str(trace))
    assert proc.returncode == 0, proc.stderr
    return trace


@pytest.fixture(scope="module")
def expected_writes(long_trace):
    """(icount, new value) of each write long_run makes, from run.S's arithmetic and the
    entry's position (a breakpoint there)."""
    timeline = Timeline(open_session(long_trace))
    entry = timeline.run_forward(breakpoints=[symbol("long_run")]).icount
    return [(entry + 5 + 5 * PER_ROUND + k * ROUND, k + 1) for k in range(ROUNDS)]


def long_run_writes(writes) -> list[tuple[int, int]]:
    start, end = symbol("long_run"), symbol("long_run_write") + 4
    return [(w.icount, int.from_bytes(w.new, "little")) for w in writes if start <= w.pc < end]


def test_when_is_the_same_sequentially_on_two_workers_and_on_dask(long_trace, expected_writes):
    distributed = pytest.importorskip("distributed")
    progress = symbol("progress")
    reader = TraceReader(long_trace)
    index = open_index(reader, pytest.fail)
    assert index is not None and len(index.positions) == 51
    timeline = Timeline(open_session(long_trace))
    sequential = queries.writes(timeline, progress, 8, space=WatchSpace.VIRTUAL)
    assert long_run_writes(sequential) == expected_writes
    assert len(sequential) == ROUNDS + 1           # and _start's clearing of .bss
    indexed = Timeline(open_session(long_trace), index=index, warn=pytest.fail)
    indexed.search = SegmentSearch(long_trace, index, jobs=2)
    try:
        assert queries.writes(indexed, progress, 8) == sequential
    finally:
        indexed.search.close()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        indexed.search = SegmentSearch(long_trace, index, scheduler=cluster.scheduler_address)
        try:
            assert queries.writes(indexed, progress, 8) == sequential
        finally:
            indexed.search.close()
    assert indexed.position == 0 and indexed.index is index       # used, and not dropped


def test_logpoints_are_the_same_sequentially_on_two_workers_and_on_dask(long_trace,
                                                                       expected_writes):
    """A logpoint's expressions are evaluated where the segment runs (rr.analysis.logpoints'
    probe): on the workers, the values are those of the sequential replay."""
    distributed = pytest.importorskip("distributed")
    expressions = ["progress", "$a0", "*$sp", "progress+8"]
    sequential = logpoint(open_trace(str(long_trace)), "long_run_write", expressions)
    assert [(hit.icount, hit.values[0] + 1) for hit in sequential.hits] == \
        expected_writes                     # the sd at long_run_write, before it stores
    reader = TraceReader(long_trace)
    index = open_index(reader, pytest.fail)
    subject = open_trace(str(long_trace))
    subject.timeline.index = index
    subject.timeline.search = SegmentSearch(long_trace, index, jobs=2)
    try:
        assert logpoint(subject, "long_run_write", expressions) == sequential
    finally:
        subject.timeline.search.close()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        subject.timeline.search = SegmentSearch(long_trace, index,
                                                scheduler=cluster.scheduler_address)
        try:
            assert logpoint(subject, "long_run_write", expressions) == sequential
        finally:
            subject.timeline.search.close()


@dataclass(frozen=True)
class ProcessProbe:
    """Reads which process the hook runs in."""

    def read(self, board) -> tuple[int]:
        return (os.getpid(),)


def test_this_process_searches_segments_too(long_trace, expected_writes):
    """`jobs` counts this process: with 2, one worker and this process share the segments;
    with 3, two workers and this process; the hits are the sequential ones either way."""
    reader = TraceReader(long_trace)
    index = open_index(reader, pytest.fail)
    watch = [Watchpoint(symbol("progress"), 8, WatchKind.WRITE)]
    sequential = Timeline(open_session(long_trace)).all_hits(watchpoints=watch)
    for jobs in (2, 3):
        search = SegmentSearch(long_trace, index, jobs=jobs)
        try:
            hits = search.all_hits(watchpoints=watch, probe=ProcessProbe())
        finally:
            search.close()
        assert hits == sequential
        processes = {hit.values[0] for hit in hits}
        assert os.getpid() in processes and len(processes) <= jobs


def test_the_repl_answers_alike_with_and_without_workers(long_trace, expected_writes):
    """`when`, `last-write` from a segment without a write (the earlier segments are
    searched side by side), continues in both directions over most of the trace and
    over a few segments print the same with two workers as sequentially."""
    script = ("when progress; goto 40000001; last-write progress; goto end; regs; "
              "goto 0; break long_run+0x22; continue; delete; break long_run; rcontinue; "
              "delete; watch progress; goto 40000001; rcontinue; continue; goto 40000001; "
              "rcontinue; goto 1; continue")
    parallel = rrvm("repl", str(long_trace), "-j", "2", "-c", script)
    sequential = rrvm("repl", str(long_trace), "--no-index", "-c", script)
    assert parallel.returncode == sequential.returncode == 0, parallel.stderr
    assert parallel.stdout == sequential.stdout and parallel.stderr == ""
    last_before = max(icount for icount, _ in expected_writes if icount < 40_000_001)
    assert f"{last_before:>11}  0x{symbol('long_run_write'):x}" in parallel.stdout
    after_loop = expected_writes[-1][0] + 2          # sd, bne: then the mv after the loop
    assert f"icount {after_loop}  pc 0x{symbol('long_run') + 0x22:x}" in parallel.stdout


def test_replay_verify_on_two_workers(long_trace):
    proc = rrvm("replay", str(long_trace), "--verify", "-j", "2")
    assert proc.returncode == 0, proc.stderr
    assert "verified 51 of 51 segments" in proc.stdout


def group(pgid: int) -> list[int]:
    """The processes of a process group (from /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def test_ctrl_c_stops_the_workers(long_trace, tmp_path):
    """SIGINT to the command's process group (what a terminal's Ctrl-C does): the
    command ends with one line, and no worker is left running."""
    trace = tmp_path / "long.rrt"
    shutil.copy(long_trace, trace)
    # 500 segments: checking them takes seconds, so the interrupt lands in the search
    index = rrvm("index", str(trace), "--every", "1000000")
    assert index.returncode == 0, index.stderr
    proc = subprocess.Popen([*RRVM, "replay", str(trace), "--verify", "-j", "2"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while len(group(proc.pid)) < 2:                 # rrvm (which searches too), a worker
        assert proc.poll() is None and time.monotonic() < deadline, "no workers started"
        time.sleep(0.05)
    time.sleep(0.5)                                 # the workers are on their first segments
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert err.strip().splitlines() == ["rrvm: interrupted"], err
    deadline = time.monotonic() + 30
    while True:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break                                 # the whole group is gone
        assert time.monotonic() < deadline, "workers still running after the interrupt"
        time.sleep(0.2)
