"""origin (rr.analysis.origin): value chains written down from the guests' sources.

The flow guest (guests/flow) sends a console byte through memory, a call and a
trap; the chain expected here is read from guests/flow/path.S and the trap
entry in guests/common/trap.S. The demo's poisoned head goes back to the
LIST_POISON constant that list_pop writes into a popped node."""

from __future__ import annotations

import json

import pytest

from analysis_helpers import DEMO_CRASH_NS, POISON, opened, record_fixed
from conftest import run_rrvm
from gdbstub.gdb_helpers import GDB, DebugServer, run_gdb
from rr.analysis.origin import OriginError, StepKind, origin
from rr.repl.expressions import ExpressionError

BYTE = ord("Z")
KEY = 0x100                      # path.S


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    return record_fixed(tmp_path_factory.mktemp("flow") / "flow.rrt", "flow", b"Z")


@pytest.fixture(scope="module")
def demo_crash(tmp_path_factory):
    return record_fixed(tmp_path_factory.mktemp("demo") / "crash.rrt", "demo",
                        wall_ns=DEMO_CRASH_NS)


# (kind, function, mnemonic and first operand, value): path.S's numbered steps, newest first.
FLOW_CHAIN = [
    (StepKind.STORE, "run_flow", "sd a0", BYTE + KEY),            # (5) outbox
    (StepKind.COMPUTE, "through_trap", "mv a0", BYTE + KEY),      # (4c)
    (StepKind.LOAD, "trap_return", "c.ldsp s2", BYTE + KEY),      # trap.S: ld x18 after the trap
    (StepKind.STORE, "trap_entry", "c.sdsp s2", BYTE + KEY),      # trap.S: sd x18 at the entry
    (StepKind.COMPUTE, "through_trap", "mv s2", BYTE + KEY),      # (4a)
    (StepKind.COMPUTE, "add_key", "addi a0", BYTE + KEY),         # (3b)
    (StepKind.LOAD, "add_key", "ld a1", BYTE),                    # (3a) inbox
    (StepKind.STORE, "run_flow", "sd a0", BYTE),                  # (2) inbox
    (StepKind.DEVICE, "run_flow", "lbu a0", BYTE),                # (1) the UART's RBR
]


def test_flow_chain_through_memory_a_call_and_a_trap(flow):
    subject = opened(flow)
    end = subject.timeline.position
    report = origin(subject, "outbox")
    assert subject.timeline.position == end
    assert report.value == BYTE + KEY
    got = [(step.kind, step.function.split("+")[0], " ".join(step.instruction.split(",")[0]
                                                            .split()[:2]), step.value)
           for step in report.steps]
    assert got == FLOW_CHAIN
    assert [step.icount for step in report.steps] == sorted(
        (step.icount for step in report.steps), reverse=True)
    device = report.end
    assert "uart16550 register 0x0" in device.what
    assert "console_input" in device.what and "data=b'Z'" in device.what
    # The steps name the memory they went through.
    assert "inbox" in report.steps[6].what and "outbox" in report.steps[0].what


def test_flow_register_origin_inside_add_key(flow):
    """$a1 just after add_key's load: one step, back to inbox, then the byte's path."""
    subject = opened(flow)
    addi = next(step for step in origin(subject, "outbox").steps if step.instruction.startswith(
        "addi a0"))
    subject.timeline.seek(addi.icount)
    report = origin(subject, "$a1")
    assert [step.kind for step in report.steps] == \
        [StepKind.LOAD, StepKind.STORE, StepKind.DEVICE]
    assert report.value == BYTE


def test_demo_poisoned_head_goes_back_to_list_poison_in_list_pop(demo_crash):
    report = origin(opened(demo_crash), "shared_list")
    assert report.value == POISON
    end = report.end
    assert end.kind is StepKind.CONSTANT
    assert end.function.startswith("list_pop") and end.instruction.startswith("lui")
    # list_pop's `n->next = LIST_POISON` store is on the way, with the poison as its value.
    poison_store = [step for step in report.steps if step.kind is StepKind.STORE
                    and step.function.startswith("list_pop") and step.value == POISON
                    and "node_pool" in step.what]
    assert poison_store, report.text()
    assert report.steps[0].function.startswith("list_pop")      # the head = n->next store


def test_depth_limit(demo_crash):
    report = origin(opened(demo_crash), "shared_list", depth=2)
    assert [step.kind for step in report.steps] == [StepKind.STORE, StepKind.LOAD,
                                                    StepKind.DEPTH]


@pytest.mark.parametrize("target, depth, message", [
    ("$pc", 5, r"\$pc is not a general register"),
    ("$nosuch", 5, r"\$nosuch is not a general register"),
    ("no_such_symbol", 5, "no symbol named 'no_such_symbol'"),
    ("$a0", 0, "depth 0 is out of range"),
    ("$a0", 100_000, "depth 100000 is out of range"),
])
def test_bad_input(flow, target, depth, message):
    with pytest.raises((OriginError, ExpressionError), match=message):
        origin(opened(flow), target, depth)


def test_cli(flow):
    done = run_rrvm("origin", str(flow), "end", "outbox", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["value"] == BYTE + KEY and result["end"] == "device"
    assert len(result["steps"]) == len(FLOW_CHAIN)
    for args, message in ((("end", "$pc"), "is not a general register"),
                          (("99999999999", "outbox"), "is past the end of the trace"),
                          (("end", "outbox", "--depth", "0"), "depth 0 is out of range")):
        done = run_rrvm("origin", str(flow), *args)
        assert done.returncode == 1
        lines = done.stderr.decode().splitlines()
        assert len(lines) == 1 and message in lines[0], lines


def test_repl_command(flow):
    from repl.repl_helpers import checked_c
    text = checked_c(flow, "goto end; origin outbox; trace add_key inbox")
    assert "a0 read from the uart16550" in text
    assert "1 hit at add_key" in text


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")
def test_gdb_monitor_commands(flow):
    with DebugServer(flow) as server:
        gdb = run_gdb("flow.elf", server.port,
                      ["continue", "monitor origin outbox", "monitor trace add_key inbox",
                       "monitor origin $nosuch", f"monitor diff {flow}", "monitor icount"])
    out = gdb.output
    assert "origin of outbox" in out and "a0 read from the uart16550" in out, out
    assert "1 hit at add_key" in out
    assert "rrvm: origin: $nosuch is not a general register" in out
    assert "no difference: same inputs, same states, same control flow" in out
    icounts = [int(line.split()[1]) for line in out.splitlines() if line.startswith("icount ")]
    assert icounts and icounts[-1] == opened(flow).length     # the position was kept


REPL_BAD_COMMANDS = [
    ("origin", "origin: usage: origin [--depth N] ADDR|$REG [LEN]"),
    ("origin $pc", "origin: $pc is not a general register (origin follows $a0, $sp, $x5, ...)"),
    ("origin --depth 0 $a0", "origin: depth 0 is out of range (1 to 1000)"),
    ("origin outbox 9", "origin: length 9 is out of range (1 to 8 bytes: one value)"),
    ("origin nosuch", "origin: no symbol named 'nosuch'"),
    ("trace", "trace: usage: trace [--csv] ADDR|FUNCTION [EXPR...]"),
    ("trace outbox", "trace: outbox is a data symbol, not code (trace takes an address or a "
                     "function)"),
    ("trace add_key $q7", "trace: unknown register '$q7'"),
    ("diff", "diff: usage: diff OTHER.rrt"),
    ("diff /nonexistent.rrt", "diff: /nonexistent.rrt: cannot open trace (No such file or "
                              "directory)"),
]


def test_repl_bad_commands_give_one_line_each(flow):
    from repl.repl_helpers import run_c
    proc = run_c(flow, "; ".join(command for command, _ in REPL_BAD_COMMANDS))
    assert proc.returncode == 1 and proc.stderr == ""
    assert proc.stdout.splitlines() == [message for _, message in REPL_BAD_COMMANDS]
