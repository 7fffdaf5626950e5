"""Retroactive logpoints (rr.analysis.logpoints): checked against a plain replay with a
code hook of its own, on the demo and on the flow guest."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from unicorn import UC_HOOK_CODE

from analysis_helpers import DEMO_CRASH_NS, REPO, opened, record_fixed
from conftest import run_rrvm
from rr.analysis.logpoints import LogpointError, logpoint
from rr.log.trace_reader import TraceReader
from rr.replay.replay_session import ReplaySession
from rr.repl.expressions import ExpressionError


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return record_fixed(tmp_path_factory.mktemp("demo") / "demo.rrt", "demo",
                        wall_ns=DEMO_CRASH_NS)


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    return record_fixed(tmp_path_factory.mktemp("flow") / "flow.rrt", "flow", b"Q")


def straight_hits(trace, address: int, head: int) -> list[tuple[int, int, int]]:
    """(icount, ra, shared_list.head) each time a straight replay reaches ``address``."""
    session = ReplaySession(TraceReader(trace), lambda data: None)
    cpu, seen = session.board.cpu, []

    def hook(_uc, _address, _size, _user):
        seen.append((cpu.icount_in_hook(), cpu.x(1),
                     int.from_bytes(session.board.memory.read(head, 8), "little")))

    cpu.uc.hook_add(UC_HOOK_CODE, hook, begin=address, end=address)
    cpu.invalidate_caches()
    try:
        session.loop.run()
    except Exception:            # noqa: BLE001 - the demo ends in its recorded fault
        pass
    return seen


def test_every_call_with_its_values_and_the_position_kept(demo):
    subject = opened(demo, 50_000)
    pop = subject.symbols.get("list_pop").address
    head = subject.symbols.get("shared_list").address
    report = logpoint(subject, "list_pop", ["$ra", "shared_list"])
    assert subject.timeline.position == 50_000
    expected = straight_hits(demo, pop, head)
    assert len(expected) > 10
    assert [(hit.icount, *hit.values) for hit in report.hits] == expected
    assert all(hit.pc == pop for hit in report.hits)
    # The last pop read the poisoned head (the crash): the last hit shows it.
    assert report.hits[-1].values[1] == 0xDEAD000000000100


def test_csv_and_text(demo):
    report = logpoint(opened(demo, 0), "list_push", ["$a0", "*shared_list"])
    rows = list(csv.reader(io.StringIO(report.csv())))
    assert rows[0] == ["icount", "pc", "$a0", "*shared_list"]
    assert len(rows) == len(report.hits) + 1
    assert [int(row[0]) for row in rows[1:]] == [hit.icount for hit in report.hits]
    assert [int(row[2], 16) for row in rows[1:]] == [hit.values[0] for hit in report.hits]
    assert report.text().startswith(f"{len(report.hits)} hits at list_push (0x")


def test_flow_guest_calls_add_key_once_with_the_byte_in_inbox(flow):
    subject = opened(flow)
    report = logpoint(subject, "add_key", ["inbox", "$ra"])
    assert len(report.hits) == 1
    assert report.hits[0].values[0] == ord("Q")
    assert subject.label(report.hits[0].values[1]).startswith("run_flow+")     # its caller


@pytest.mark.parametrize("location, expressions, message", [
    ("shared_list", [], "shared_list is a data symbol, not code"),
    ("no_such_function", [], "no symbol named 'no_such_function'"),
    ("list_pop", ["$nosuch"], "unknown register '$nosuch'"),
])
def test_bad_input_is_one_line(demo, location, expressions, message):
    with pytest.raises((LogpointError, ExpressionError), match=re.escape(message)):
        logpoint(opened(demo, 0), location, expressions)


def test_cli_json_and_errors(flow):
    done = run_rrvm("trace", str(flow), "add_key", "inbox", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [hit["values"]["inbox"] for hit in result["hits"]] == [ord("Q")]
    done = run_rrvm("trace", str(flow), "nowhere")
    assert done.returncode == 1
    assert done.stderr.decode() == "rrvm: error: no symbol named 'nowhere'\n"
    assert REPO.is_dir()
