"""lldb 14 (Debian's `lldb`) against `rrvm debug` and `rrvm run --gdb`.

lldb speaks the same remote protocol as gdb but finds the pc, stack pointer
and argument registers by the `generic=` roles of the target description,
maps DWARF registers by `dwarf_regnum=`, writes thread ids with leading
zeros and must be told that watchpoint stops come before the access
(docs/gdb-protocol.md, G4, G18, G19). lldb runs in batch mode; unlike gdb it
stops at the first command that fails, so every command here must succeed.
"""

from __future__ import annotations

import re

import pytest
from elftools.elf.elffile import ELFFile

from gdb_helpers import BIN, LLDB, DebugServer, StubServer, record, run_lldb
from rr.monitor.constants import KERNEL_LOAD_ADDR

pytestmark = pytest.mark.skipif(LLDB is None, reason="lldb is not installed")


def _symbol(elf: str, name: str) -> int:
    with open(BIN / elf, "rb") as f:
        return ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]["st_value"]


def _pc_lines(text: str) -> list[int]:
    """Every `pc = 0x...` lldb printed with `register read pc`, in order."""
    return [int(value, 16) for value in re.findall(r"^\s+pc = (0x[0-9a-f]+)", text, re.M)]


@pytest.fixture(scope="module")
def timer_trace(tmp_path_factory):
    return record("timer", tmp_path_factory.mktemp("lldb") / "timer.rr")


@pytest.fixture(scope="module")
def demo_trace(tmp_path_factory):
    return record("demo", tmp_path_factory.mktemp("lldb") / "demo.rr")


def test_connect_read_registers_and_step(timer_trace):
    commands = ["register read pc sp a1 sstatus satp mstatus time priv", "si", "si",
                "register read pc time", "memory read --format x --size 4 --count 2 0x80200000",
                "disassemble --pc --count 1"]
    with DebugServer(timer_trace) as server:
        lldb = run_lldb("timer.elf", server.port, commands)
        server.wait()
    out = lldb.stdout
    # The first stop names the entry point, not 0xffffffffffffffff (no generic="pc").
    assert re.search(r"frame #0: 0x0*80200000 timer\.elf`", out), lldb.output
    assert "invalid frame" not in lldb.output and "error:" not in lldb.output, lldb.output
    assert _pc_lines(out) == [KERNEL_LOAD_ADDR, KERNEL_LOAD_ADDR + 8]
    assert re.search(r"^\s+a1 = 0x0*87e00000$", out, re.M)                 # the device tree
    assert re.search(r"^\s+satp = 0x0+$", out, re.M)
    assert re.search(r"^\s+priv = 0x0*1$", out, re.M)                      # S-mode
    mstatus = int(re.search(r"^\s+mstatus = (0x[0-9a-f]+)", out, re.M).group(1), 16)
    sstatus = int(re.search(r"^\s+sstatus = (0x[0-9a-f]+)", out, re.M).group(1), 16)
    assert mstatus & sstatus == sstatus
    times = [int(t, 16) for t in re.findall(r"^\s+time = (0x[0-9a-f]+)", out, re.M)]
    assert times == [0, 2]                                 # the virtual clock, two steps on
    # Two instructions stepped (vCont;s:0001, a thread id with leading zeros).
    assert out.count("stop reason = instruction step into") == 2
    assert "0x80200000: 0x10401073" in out                                 # csrw sie, zero


def test_breakpoint_backtrace_and_variables(demo_trace):
    commands = ["breakpoint set --name payload_checksum", "continue", "bt", "frame variable",
                "up", "frame variable", "register read pc"]
    with DebugServer(demo_trace) as server:
        lldb = run_lldb("demo.elf", server.port, commands)
        server.wait()
    out = lldb.stdout
    assert "stop reason = breakpoint 1.1" in out, lldb.output
    frames = re.findall(r"frame #(\d+): 0x[0-9a-f]+ demo\.elf`(\w+)", out.split("(lldb) bt")[1])
    names = [name for _, name in frames]
    assert names[:3] == ["payload_checksum", "list_push", "task_entry"], out
    # Arguments and locals through DWARF locations (DWARF register numbers, G18).
    node = re.search(r"payload_checksum\(n=(0x[0-9a-f]+)\)", out).group(1)
    assert re.search(rf"^\(const node \*\) n = {node}$", out, re.M), out
    assert re.search(rf"^\(node \*\) n = {node}$", out, re.M), out        # list_push's n, up
    assert _pc_lines(out) and _pc_lines(out)[0] > _symbol("demo.elf", "list_push")


def test_watchpoint_old_and_new_values(timer_trace):
    """lldb steps over a watchpoint stop itself (told so by qHostInfo, G19) and shows the
    values before and after the store."""
    commands = ["watchpoint set variable ticks", "continue", "continue", "continue",
                "register read pc"]
    with DebugServer(timer_trace) as server:
        lldb = run_lldb("timer.elf", server.port, commands)
        server.wait()
    out = lldb.stdout
    hits = re.findall(r"old value: (\d+)\nnew value: (\d+)", out)
    # The boot code zeroes .bss (0 -> 0), then the timer interrupt counts ticks.
    assert hits == [("0", "0"), ("0", "1"), ("1", "2")], lldb.output
    assert out.count("stop reason = watchpoint 1") == 3
    assert re.search(r"frame #0: 0x[0-9a-f]+ timer\.elf`trap_handler\(tf=0x[0-9a-f]+\)", out)
    # Reported after the store, at the next instruction, as lldb expects.
    assert _pc_lines(out)[0] > _symbol("timer.elf", "trap_handler")


def test_live_guest_breakpoint_step_watch_and_exit():
    commands = ["breakpoint set --name main", "continue", "bt", "si", "register read pc",
                "watchpoint set variable ticks", "continue", "watchpoint delete 1",
                "breakpoint delete 1", "continue"]
    with StubServer("run", str(BIN / "timer.elf"), "--gdb", "0", "--wait") as server:
        lldb = run_lldb("timer.elf", server.port, commands)
        assert server.wait() == 0
    out = lldb.stdout
    main = _symbol("timer.elf", "main")
    assert re.search(rf"frame #0: 0x0*{main:x} timer\.elf`main at timer\.c", out), lldb.output
    assert _pc_lines(out)[0] > main
    assert re.search(r"old value: 0\nnew value: 1", out)
    assert "Process 1 exited with status = 0" in out
    assert b"timer: shutting down" in server.stdout
