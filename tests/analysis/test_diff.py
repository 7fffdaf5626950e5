"""diff (rr.analysis.diff) on pairs of recordings whose first difference is known from the
inputs given: a console byte, the RTC value, nothing, the image, the board."""

from __future__ import annotations

import json
import re

import pytest

from analysis_helpers import (DEMO_CRASH_NS, DEMO_PASS_NS, FLOW_EVEN_NS, FLOW_ODD_NS, opened,
                              record_fixed)
from conftest import run_rrvm
from rr.analysis.diff import DiffRefused, diff
from rr.monitor.board_config import BoardConfig


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diff")
    made = {
        "flow_a": record_fixed(folder / "a.rrt", "flow", b"A"),
        "flow_a2": record_fixed(folder / "a2.rrt", "flow", b"A"),
        "flow_b": record_fixed(folder / "b.rrt", "flow", b"B"),
        "flow_odd": record_fixed(folder / "odd.rrt", "flow", b"A", FLOW_ODD_NS),
        "flow_big": record_fixed(folder / "big.rrt", "flow", b"A",
                                 config=BoardConfig(ram_size=256 << 20)),
        "demo_pass": record_fixed(folder / "pass.rrt", "demo", wall_ns=DEMO_PASS_NS),
        "demo_crash": record_fixed(folder / "crash.rrt", "demo", wall_ns=DEMO_CRASH_NS),
        "hello": record_fixed(folder / "hello.rrt", "hello"),
    }
    return made


def compare(traces, good: str, bad: str):
    return diff(opened(traces[good], 0), opened(traces[bad], 0))


def test_identical_inputs_no_difference(traces):
    report = compare(traces, "flow_a", "flow_a2")
    assert report.same
    assert "no difference" in report.text()


def test_console_input(traces):
    report = compare(traces, "flow_a", "flow_b")
    inputs = report.inputs
    assert inputs.index == 0
    assert (inputs.good.KIND, inputs.good.data, inputs.bad.data) == \
        ("console_input", b"A", b"B")
    assert inputs.good.icount == inputs.bad.icount
    # The byte reaches the UART at that event: the states part there, in the UART alone.
    state = report.state
    assert state.position == inputs.good.icount
    assert state.devices == ("uart16550",) and not state.registers
    assert report.traps is None


def test_rtc_seed_on_the_flow_guest(traces):
    report = compare(traces, "flow_a", "flow_odd")
    assert report.inputs.good.KIND == "wall_clock_read"
    assert (report.inputs.good.ns, report.inputs.bad.ns) == (FLOW_EVEN_NS, FLOW_ODD_NS)
    state = report.state
    assert state.function == "rtc_read_ns" and state.instruction.startswith("c.lw")
    assert state.icount == report.inputs.good.icount           # the load that read it
    assert state.position == state.icount + 1
    assert [name for name, _, _ in state.registers] == ["a5"]
    assert (state.registers[0][1] ^ state.registers[0][2]) == 1       # the low bit
    flow = report.flow
    # flow.c: main calls clock_even or clock_odd after the read, by the clock's low bit.
    assert flow is not None and flow.icount > state.position
    assert flow.good_pc != flow.bad_pc and flow.good_function == flow.bad_function == "main"
    # Its one trap (through_trap's ebreak) comes before the clock is read: the same in both.
    assert report.traps is None


def test_demo_pass_and_crash_told_apart_at_the_seed_read(traces):
    report = compare(traces, "demo_pass", "demo_crash")
    assert (report.inputs.good.KIND, report.inputs.good.ns, report.inputs.bad.ns) == \
        ("wall_clock_read", DEMO_PASS_NS, DEMO_CRASH_NS)
    state = report.state
    assert state.function == "rtc_read_ns" and state.icount == report.inputs.good.icount
    assert "goldfish_rtc" in state.devices
    assert report.flow.icount > state.position
    assert report.good_length != report.bad_length
    # The first schedule difference: a trap taken at another count or from another pc
    # (timer ticks are armed at rdtime() + TICK_INTERVAL, and rdtime is the count).
    traps = report.traps
    assert traps is not None and traps.good is not None and traps.bad is not None
    assert min(traps.good.icount, traps.bad.icount) >= report.flow.icount
    assert (traps.good.icount, traps.good.sepc) != (traps.bad.icount, traps.bad.sepc)
    assert "first trap difference" in report.text()


@pytest.mark.parametrize("other, message", [
    ("hello", "the traces are of different guest images"),
    ("flow_big", "the traces are of different boards (ram_size"),
])
def test_refused(traces, other, message):
    with pytest.raises(DiffRefused, match=re.escape(message)):
        compare(traces, "flow_a", other)
    done = run_rrvm("diff", str(traces["flow_a"]), str(traces[other]))
    assert done.returncode == 1
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_cli_json(traces):
    done = run_rrvm("diff", str(traces["flow_a"]), str(traces["flow_b"]), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["inputs"]["good"]["data"] == b"A".hex()
    assert result["state"]["devices"] == ["uart16550"]


def test_repl_diff_keeps_the_position(traces):
    from repl.repl_helpers import run_c
    done = run_c(traces["flow_a"], f"goto 500; diff {traces['flow_odd']}; where; "
                                   f"diff {traces['hello']}")
    text = done.stdout
    assert "first input difference: event #1" in text     # #0 is the same console byte
    assert "wall_clock_read" in text and "<rtc_read_ns>" in text
    assert "icount  500 of" in text
    assert done.returncode == 1 and "Traceback" not in done.stderr + text
    assert "diff: the traces are of different guest images" in text
