"""Stock gdb-multiarch on live guests: `rrvm run --gdb` and `rrvm record --gdb`.

A live guest keeps its history, so reverse execution works inside what ran
so far; `run --gdb` accepts changes at the live edge, `record --gdb` refuses
them (the trace must replay). gdb runs in batch mode (see test_gdb_replay.py);
the raw RSP client is used where gdb cannot be made to act mid-run (Ctrl-C,
typing at the console while attached).
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from gdb_helpers import (BIN, GDB, REPO, RRVM, SOURCE_TRAP_UNWINDER, TIMEOUT, RspClient,
                         StubServer, icount_of, pc_values, run_gdb, source_line)
from rr.gdbstub.registers import FIRST_CSR_REGNUM
from rr.log.trace_reader import TraceReader
from rr.monitor.constants import CSR_SSTATUS, CSR_TIME

pytestmark = pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")

NO_HISTORY = "No more reverse-execution history."
PRINT_PC = 'printf "{tag} %lx\\n", $pc'
RECORDING_REFUSAL = "rrvm is recording this guest to a trace"
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
STEPS = 5
USER_VA = 0x400000                   # guests/paging/paging.c


def _address(elf: str, name: str) -> int:
    with open(BIN / elf, "rb") as f:
        return ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]["st_value"]


def _live(guest: str, *extra: str, stdin: int = subprocess.DEVNULL) -> StubServer:
    return StubServer("run", str(BIN / f"{guest}.elf"), "--gdb", "0", *extra, stdin=stdin)


def _replay(trace: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*RRVM, "replay", str(trace)], cwd=REPO, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=TIMEOUT)


def test_breakpoint_by_symbol_registers_disassembly_and_poweroff():
    commands = ["break main", "continue", PRINT_PC.format(tag="PC"), "info registers",
                "x/4i $pc", "continue"]
    with _live("timer", "--wait") as server:
        gdb = run_gdb("timer.elf", server.port, commands)
        assert server.wait() == 0
    out = gdb.stdout
    assert "Breakpoint 1, main () at timer/timer.c" in out, gdb.output
    assert pc_values(out, "PC") == [_address("timer.elf", "main")]
    assert re.search(r"^sp\s+0x8020[0-9a-f]{4}\s", out, re.M), out
    assert re.search(r"^a1\s+0x87e00000\s", out, re.M)                 # the device tree
    assert re.search(r"=> 0x[0-9a-f]+ <main>:\s+add\s+sp,sp,-", out), out
    assert len(re.findall(r"^   0x[0-9a-f]+ <main\+\d+>:", out, re.M)) == 3
    assert "exited normally" in out
    assert b"timer: shutting down" in server.stdout
    assert "gdb connected" in server.stderr


def test_wait_holds_the_guest_at_its_first_instruction():
    with _live("hello", "--wait") as server:
        time.sleep(0.5)
        assert server.stdout == b""                       # nothing ran before gdb came
        with RspClient(server.port) as gdb:
            gdb.start_no_ack()
            assert icount_of(gdb.monitor("icount")) == 0
            assert gdb.request("c") == "W00"              # hello powers off
        assert server.wait() == 0
    assert b"hello: powering off" in server.stdout


def test_single_step_into_the_trap_handler():
    # The user program runs at USER_VA (paging.c), not where it is linked.
    store = USER_VA + _address("paging.elf", "user_store_fault") \
        - _address("paging.elf", "user_start")
    commands = [f"break *{store:#x}", "continue", PRINT_PC.format(tag="AT"), "p $priv", "stepi",
                PRINT_PC.format(tag="PC"), "p $priv", "p $scause", "kill"]
    with _live("paging", "--wait") as server:
        # Under its default OS ABI gdb steps in software (a Z0 on the next pc, then
        # continue: docs/gdb-protocol.md, G13), which runs the whole handler; bare metal steps.
        gdb = run_gdb("paging.elf", server.port, commands, setup=("set osabi none",))
        server.wait()
    assert pc_values(gdb.stdout, "AT") == [store], gdb.output
    assert re.search(r"^\$1 = 0$", gdb.stdout, re.M)              # U-mode at the store
    assert pc_values(gdb.stdout, "PC") == [_address("paging.elf", "trap_entry")], gdb.output
    assert re.search(r"^\$2 = 1$", gdb.stdout, re.M)              # S-mode now
    assert re.search(r"^\$3 = 15$", gdb.stdout, re.M)             # store page fault
    assert "gdb killed the session" in server.stderr


def test_backtrace_from_the_trap_entry_into_user_code():
    """Stopped at the trap entry's first instruction nothing is saved yet: the unwinder's
    next frame is the interrupted user code, at sepc, with the current registers (G23)."""
    store = USER_VA + _address("paging.elf", "user_store_fault") \
        - _address("paging.elf", "user_start")
    commands = [f"break *{store:#x}", "continue", "p/x $sp", "stepi", "bt", "frame 1",
                PRINT_PC.format(tag="USER"), "p/x $sp", "kill"]
    with _live("paging", "--wait") as server:
        gdb = run_gdb("paging.elf", server.port, commands,
                      setup=("set osabi none", SOURCE_TRAP_UNWINDER))
        server.wait()
    out = gdb.stdout
    assert re.search(r"^#0  trap_entry \(\) at common/trap\.S", out, re.M), gdb.output
    assert re.search(rf"^#1  0x0*{store:x} in ", out, re.M), gdb.output
    assert pc_values(out, "USER") == [store]
    user_sp = re.search(r"^\$1 = (0x[0-9a-f]+)$", out, re.M).group(1)
    assert re.search(rf"^\$2 = {user_sp}$", out, re.M), gdb.output


def test_run_accepts_writes_and_history_restarts_there():
    commands = ["break main", "continue", "set var $a0 = 0x1234", "p/x $a0",
                "set var {unsigned int}($sp - 64) = 0xc0ffee", "p/x {unsigned int}($sp - 64)",
                "reverse-stepi", "stepi", "stepi", PRINT_PC.format(tag="FWD"),
                "reverse-stepi", PRINT_PC.format(tag="BACK"), "p/x $a0", "kill"]
    with _live("timer", "--wait") as server:
        gdb = run_gdb("timer.elf", server.port, commands)
    out = gdb.stdout
    assert re.search(r"^\$1 = 0x1234$", out, re.M), gdb.output
    assert re.search(r"^\$2 = 0xc0ffee$", out, re.M), gdb.output
    # The machine was changed: no recorded past leads to this state.
    assert NO_HISTORY in out
    main = _address("timer.elf", "main")
    forward, back = pc_values(out, "FWD"), pc_values(out, "BACK")
    assert len(forward) == 1 and forward[0] != main
    assert back and back[0] != forward[0]
    assert re.search(r"^\$3 = 0x1234$", out, re.M)            # stepping back keeps the change


def test_record_reverses_inside_history_and_refuses_writes(tmp_path):
    trace = tmp_path / "timer.rr"
    commands = ["break main", "continue"]
    commands += [c for _ in range(STEPS) for c in (PRINT_PC.format(tag="STEP"), "stepi")]
    commands += [c for _ in range(STEPS) for c in ("reverse-stepi", PRINT_PC.format(tag="BACK"))]
    commands += ["set var $a0 = 1", "delete", "continue", "monitor info", "break main",
                 "reverse-continue", PRINT_PC.format(tag="RC")]
    with StubServer("record", str(BIN / "timer.elf"), "-o", str(trace), "--gdb", "0",
                    "--wait") as server:
        gdb = run_gdb("timer.elf", server.port, commands)
        assert server.wait() == 0                          # batch gdb detaches at the end
    out = gdb.stdout
    steps = pc_values(out, "STEP")
    assert len(steps) == STEPS and pc_values(out, "BACK") == steps[::-1], gdb.output
    assert RECORDING_REFUSAL in gdb.stderr
    assert NO_HISTORY in out                               # the guest's end is history's end
    assert "the guest has ended" in gdb.stderr             # monitor info
    assert pc_values(out, "RC") == [_address("timer.elf", "main")]
    with TraceReader(trace) as reader:
        assert reader.footer is not None and reader.footer.exit_kind == "poweroff"
    replay = _replay(trace)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout == server.stdout and b"tick 5" in replay.stdout


def test_ctrl_c_of_a_running_guest_and_kill(tmp_path):
    """compute made to run 5e9 instructions: its own 5e8 can end within the half second
    before the interrupt on a fast, idle machine."""
    from conftest import patch_symbol
    compute = patch_symbol(BIN / "compute.elf", tmp_path / "compute.elf", "iterations",
                           1_000_000_000)
    with StubServer("run", str(compute), "--gdb", "0", "--wait") as server:
        with RspClient(server.port) as gdb:
            gdb.start_no_ack()
            gdb.send("c")
            time.sleep(0.5)
            gdb.send_raw(b"\x03")
            assert gdb.read_packet() == "T02thread:1;"
            stopped = icount_of(gdb.monitor("icount"))
            assert stopped > 1_000_000
            assert gdb.request("bs") == "T05thread:1;"     # history kept while live
            assert icount_of(gdb.monitor("icount")) == stopped - 1
            gdb.send("k")
        assert server.wait() == 130                        # killed: as if the user quit
    assert "gdb killed the session" in server.stderr


def test_attach_to_a_guest_waiting_for_input_and_type_while_attached(tmp_path):
    """No --wait: the guest runs and takes input before gdb comes; attaching stops it
    in its wfi; it takes input again once continued; the trace replays all of it."""
    trace = tmp_path / "echo.rr"
    with StubServer("record", str(BIN / "echo.elf"), "-o", str(trace), "--gdb", "0",
                    stdin=subprocess.PIPE) as server:
        server.type(b"hello\n")
        server.wait_for_output(b"echo: hello")
        with RspClient(server.port) as gdb:
            gdb.start_no_ack()
            assert gdb.request("?") == "T05thread:1;"
            here = icount_of(gdb.monitor("icount"))
            assert gdb.request("bs") == "T05thread:1;"
            assert gdb.request("s") == "T05thread:1;"
            assert icount_of(gdb.monitor("icount")) == here
            gdb.send("c")
            server.type(b"again\nquit\n")
            assert gdb.read_packet() == "T05thread:1;replaylog:end;"
            gdb.send("D")
            assert gdb.read_packet() == "OK"
        assert server.wait() == 0
    assert b"echo: again" in server.stdout and b"bye" in server.stdout
    replay = _replay(trace)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout == server.stdout


def test_time_under_the_host_clock_is_unavailable_and_read_only():
    """Under --clock host, time is a logged input the stub cannot read ahead of the guest:
    `time` is unavailable rather than made up; no clock can be written (G20)."""
    time_regnum = FIRST_CSR_REGNUM + CSR_TIME
    with _live("timer", "--wait", "--clock", "host") as server:
        with RspClient(server.port) as gdb:
            gdb.start_no_ack()
            assert gdb.request(f"p{time_regnum:x}") == "xx" * 8
            reply = gdb.request(f"P{time_regnum:x}=0100000000000000")
            assert reply == "E.time is a read-only register on this hart", reply
            assert gdb.request(f"p{FIRST_CSR_REGNUM + CSR_SSTATUS:x}") != "xx" * 8
            gdb.send("k")
        server.wait()


def test_kill_while_recording_ends_the_trace_complete(tmp_path):
    trace = tmp_path / "compute.rr"
    with StubServer("record", str(BIN / "compute.elf"), "-o", str(trace), "--gdb", "0",
                    "--wait") as server:
        with RspClient(server.port) as gdb:
            gdb.start_no_ack()
            for _ in range(3):
                assert gdb.request("s") == "T05thread:1;"
            gdb.send("k")
        assert server.wait() == 130
    with TraceReader(trace) as reader:
        assert reader.footer is not None and reader.footer.exit_kind == "quit"
    assert _replay(trace).returncode == 130


@pytest.mark.skipif(not UBOOT.is_file(), reason="Debian's u-boot-qemu is not installed")
def test_uboot_under_run_gdb():
    """Attach at U-Boot's prompt (which interrupts it), read registers and memory,
    continue, type a command, power off."""
    with StubServer("run", str(UBOOT), "--gdb", "0", stdin=subprocess.PIPE) as server:
        server.wait_for_output(b"Hit any key to stop autoboot")
        server.type(b" ")
        server.wait_for_output(b"=> ")

        def type_commands() -> None:
            time.sleep(2)                      # gdb has attached and continued by then
            server.type(b"echo typed under gdb\n")
            server.wait_for_output(b"typed under gdb\r\n")
            server.type(b"poweroff\n")

        typist = threading.Thread(target=type_commands, daemon=True)
        commands = ["info registers pc sp", "p $priv", "x/2xw 0x80200000", "monitor icount",
                    "continue"]
        args = [GDB, "-nx", "-batch", "-ex", "set confirm off", "-ex", "set architecture riscv:rv64",
                "-ex", f"target remote 127.0.0.1:{server.port}"]
        for line in commands:
            args += ["-ex", line]
        typist.start()
        done = subprocess.run(args, cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=TIMEOUT)
        typist.join(TIMEOUT)
        assert server.wait() == 0
    out = done.stdout.decode()
    first_words = UBOOT.read_bytes()[:8]
    words = [int.from_bytes(first_words[i:i + 4], "little") for i in (0, 4)]
    assert re.search(r"^pc\s+0x[0-9a-f]+", out, re.M), out
    assert re.search(r"^\$1 = 1$", out, re.M)                       # U-Boot runs in S-mode
    assert re.search(rf"0x80200000:\s+0x{words[0]:08x}\s+0x{words[1]:08x}", out), out
    assert icount_of(done.stderr.decode()) > 0
    assert "exited normally" in out
    assert b"typed under gdb" in server.stdout


def test_a_stimecmp_write_programs_the_live_harts_timer():
    """With --sstc, `set var $stimecmp` on a live guest does what the hart's own write does
    (G20): a deadline already past raises sip.STIP at once, which guests/sstc then prints
    where it would print 0."""
    far = source_line(REPO / "guests" / "sstc" / "sstc.c", '"sstc: hart %lu: stimecmp far ahead')
    commands = [f"break sstc.c:{far}", "continue", "set var $stimecmp = 1", "p $stimecmp",
                "delete", "continue"]
    with _live("sstc", "--sstc", "--wait") as server:
        gdb = run_gdb("sstc.elf", server.port, commands)
        server.wait()
    assert re.search(r"^\$1 = 1$", gdb.stdout, re.M), gdb.output
    assert b"sstc: hart 0: stimecmp far ahead: sip.STIP 1" in server.stdout, server.stdout
