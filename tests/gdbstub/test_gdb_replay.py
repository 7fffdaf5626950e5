"""Stock gdb-multiarch against `rrvm debug`: the reverse-debugging acceptance tests.

gdb runs in batch mode; every -ex runs even after an error, so the tests
assert on the text gdb prints (monitor output goes to its stderr).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from gdb_helpers import (BIN, GDB, REPO, RRVM, SOURCE_TRAP_UNWINDER, TIMEOUT, DebugServer,
                         icount_of, pc_values, record, run_gdb)
from rr.gdbstub.registers import FEATURE_CSR, register_table
from rr.gdbstub.replay_target import READ_ONLY_REASON
from rr.log.trace_reader import TraceReader
from rr.replay import queries
from rr.replay.hits import WatchKind, Watchpoint
from rr.replay.replay_session import ReplaySession
from rr.replay.timeline import Timeline

pytestmark = pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")

STEPS = 10
NO_HISTORY = "No more reverse-execution history."
PRINT_PC = 'printf "{tag} %lx\\n", $pc'
OSABIS = {"default": (), "osabi-none": ("set osabi none",)}


def _symbol(elf: str, name: str) -> tuple[int, int]:
    with open(BIN / elf, "rb") as f:
        symbol = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]
        return symbol["st_value"], symbol["st_size"]


@pytest.fixture(scope="module")
def timer_trace(tmp_path_factory):
    return record("timer", tmp_path_factory.mktemp("gdb") / "timer.rr")


@pytest.fixture(scope="module")
def demo_crash_trace(tmp_path_factory):
    """A demo run that crashed on the poisoned list (more than half the runs do: the seed is
    the RTC, a recorded input); the rarer audit failure would end elsewhere."""
    trace = record("demo", tmp_path_factory.mktemp("gdb") / "demo.rr", want_exit="fail",
                   want_output=b"PANIC: load page fault", attempts=20)
    with TraceReader(trace) as reader:
        assert reader.footer.exit_kind == "fail"
    return trace


@pytest.mark.parametrize("osabi", OSABIS)
def test_qemu_reverse_debugging_recipe(timer_trace, osabi):
    """Step 10, step back 10 checking each pc, forward again, breakpoints on those
    pcs, continue to the end, reverse-continue stops at the last one."""
    main, _ = _symbol("timer.elf", "main")
    commands = [f"break *{main:#x}", "continue", "delete"]
    for n in range(STEPS):
        commands += [f"set $rrstep{n} = $pc", PRINT_PC.format(tag="STEP"), "stepi"]
    for _ in range(STEPS):
        commands += ["reverse-stepi", PRINT_PC.format(tag="BACK")]
    for _ in range(STEPS):
        commands += [PRINT_PC.format(tag="FWD"), "stepi"]
    commands += [f"break *$rrstep{n}" for n in range(STEPS)]
    commands += ["continue", PRINT_PC.format(tag="END"), "monitor icount",
                 "reverse-continue", PRINT_PC.format(tag="RC")]
    with DebugServer(timer_trace) as server:
        gdb = run_gdb("timer.elf", server.port, commands, setup=OSABIS[osabi])
    steps = pc_values(gdb.stdout, "STEP")
    assert len(steps) == STEPS and steps[0] == main, gdb.output
    assert len(set(steps)) == STEPS
    assert pc_values(gdb.stdout, "BACK") == steps[::-1], gdb.output
    assert pc_values(gdb.stdout, "FWD") == steps, gdb.output
    # None of those instructions runs again: the continue reaches the end of history.
    assert NO_HISTORY in gdb.stdout
    with TraceReader(timer_trace) as reader:
        assert icount_of(gdb.stderr) == reader.footer.final_icount
    assert pc_values(gdb.stdout, "RC") == [steps[-1]], gdb.output
    assert re.search(rf"Breakpoint {STEPS + 1}, 0x0*{steps[-1]:x} in main \(\)", gdb.stdout)
    assert "timer: start" in server.stdout.decode()                   # console to stdout, once
    assert server.stdout.decode().count("tick 5") == 1


def test_reverse_stepi_at_the_start_and_inspection(timer_trace):
    commands = ["reverse-stepi", PRINT_PC.format(tag="PC"), "monitor icount", "bt",
                "info registers", "x/4i $pc", "p $priv", "p/x $satp",
                "set var $a0 = 1", "monitor info"]
    with DebugServer(timer_trace) as server:
        gdb = run_gdb("timer.elf", server.port, commands)
        assert server.wait() == 0 and "gdb detached" in server.stderr   # batch gdb detaches
    assert NO_HISTORY in gdb.stdout
    assert pc_values(gdb.stdout, "PC") == [0x80200000]
    assert "icount 0" in gdb.stderr
    assert "#0  _start () at common/start.S" in gdb.stdout
    assert re.search(r"^a1\s+0x87e00000", gdb.stdout, re.M)          # the device tree
    assert re.search(r"^pc\s+0x80200000\s+0x80200000 <_start>", gdb.stdout, re.M)
    assert re.search(r"=> 0x80200000 <_start>:\s+csrw\s+sie,zero", gdb.stdout)
    assert len(re.findall(r"^   0x802000[0-9a-f]+ <_start\+\d+>:", gdb.stdout, re.M)) == 3
    assert re.search(r"^\$1 = 1$", gdb.stdout, re.M)                   # S-mode
    assert re.search(r"^\$2 = 0x0$", gdb.stdout, re.M)
    assert "read-only" in gdb.stderr                                   # the register write
    assert "timer.elf" in gdb.stderr and "complete" in gdb.stderr      # monitor info


def test_the_target_description_alone_makes_gdb_riscv(timer_trace):
    """No file, no `set architecture`: gdb-multiarch would assume x86-64 and reject the
    `g` reply; the stub's target.xml tells it (docs/gdb-protocol.md, G5)."""
    commands = [PRINT_PC.format(tag="PC"), "p $priv", "p/x $sstatus", "x/i $pc", "info registers a1",
                "show architecture"]
    with DebugServer(timer_trace) as server:
        gdb = run_gdb(None, server.port, commands)
        server.wait()
    assert "Truncated register" not in gdb.output and "riscv:rv64" in gdb.stdout, gdb.output
    assert pc_values(gdb.stdout, "PC") == [0x80200000], gdb.output
    assert re.search(r"^\$1 = 1$", gdb.stdout, re.M)                   # S-mode
    assert re.search(r"^\$2 = 0x[0-9a-f]+$", gdb.stdout, re.M)
    assert re.search(r"=> 0x80200000:\s+csrw\s+sie,zero", gdb.stdout), gdb.output
    assert re.search(r"^a1\s+0x87e00000", gdb.stdout, re.M)


def _last_change(trace, address: int, size: int) -> tuple[int, int, bytes, bytes]:
    """(icount, pc, value before, value after) of the last store that changed the range."""
    with TraceReader(trace) as reader:
        timeline = Timeline(ReplaySession(reader, lambda data: None))
        hits = timeline.all_hits(watchpoints=[Watchpoint(address, size, WatchKind.WRITE)])
        ram = timeline.board.ram
        offset = address - ram.base
        for hit in reversed(hits):
            timeline.seek(hit.icount)
            before, pc = bytes(ram.map[offset:offset + size]), timeline.board.cpu.pc
            timeline.seek(hit.icount + 1)
            after = bytes(ram.map[offset:offset + size])
            if before != after:
                return hit.icount, pc, before, after
    raise AssertionError("no write changed the range")


def _list_values(text: str) -> list[tuple[int, int]]:
    """(head, count) pairs of every `{head = 0x..., count = N}` gdb printed."""
    return [(int(head, 16), int(count))
            for head, count in re.findall(r"head = (0x[0-9a-f]+)[^,]*, count = (\d+)", text)]


def test_demo_crash_watchpoint_reverse_continue(demo_crash_trace):
    address, size = _symbol("demo.elf", "shared_list")
    icount, pc, before, after = _last_change(demo_crash_trace, address, size)
    value = lambda raw: (int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:16], "little"))  # noqa: E731
    commands = ["continue", "bt", "watch shared_list", "reverse-continue",
                PRINT_PC.format(tag="PC"), "monitor icount", "x/i $pc", "bt",
                "continue", "monitor icount", "kill"]
    with DebugServer(demo_crash_trace) as server:
        gdb = run_gdb("demo.elf", server.port, commands)
        assert server.wait() == 0 and "gdb killed the session" in server.stderr
    out = gdb.stdout
    # The end of history is the crash: a panic reached from the trap handler.
    assert NO_HISTORY in out
    assert re.search(r"#\d+ +0x[0-9a-f]+ in panic \(", out) and "trap_handler" in out, out
    assert "PANIC" in server.stdout.decode()
    # Reverse: Old is the value after the store, New the value before it.
    assert "Hardware watchpoint 1: shared_list" in out
    values = _list_values(out)
    assert values[:2] == [value(after), value(before)], out
    assert pc_values(out, "PC") == [pc]
    icounts = [int(n) for n in re.findall(r"icount (\d+)", gdb.stderr)]
    assert icounts[0] == icount, gdb.output
    assert re.search(rf"=> 0x0*{pc:x} <list_(push|pop)\+\d+>:\s+sd\s", out), out
    assert re.search(r"#0 +(0x[0-9a-f]+ in )?list_(push|pop) \(", out), out
    # Forward again over the same store: New and Old the other way round, after it.
    assert values[2:4] == [value(before), value(after)], out
    assert icounts[1] == icount + 1


def test_demo_crash_backtrace_reaches_the_faulting_function(demo_crash_trace):
    """The crash is a panic in the trap handler; through the trap frame `bt` reaches the
    function that loaded the poisoned pointer, at sepc (G23)."""
    commands = ["continue", "bt", "p/x $sepc"]
    with DebugServer(demo_crash_trace) as server:
        gdb = run_gdb("demo.elf", server.port, commands, setup=(SOURCE_TRAP_UNWINDER,))
    out = gdb.stdout
    frames = re.findall(r"^#(\d+) +(?:(0x[0-9a-f]+) in )?(\w+) \(", out, re.M)
    names = [name for _, _, name in frames]
    assert "panic" in names and "trap_handler" in names, out
    entry = names.index("trap_entry")
    _, address, interrupted = frames[entry + 1]
    sepc = int(re.search(r"^\$1 = (0x[0-9a-f]+)$", out, re.M).group(1), 16)
    assert interrupted == "list_pop" and int(address, 16) == sepc, out


def test_csrs_are_readable_or_absent(timer_trace):
    """Every CSR in the target description prints a value; the ones left out (no Sstc, host
    ticks) are unknown to gdb, as any name it has no register for (G20)."""
    csrs = [reg.name for reg in register_table(sstc=False).registers if reg.feature == FEATURE_CSR]
    commands = ["break main", "continue", "monitor icount"]
    commands += [f'printf "CSR {name} %lu\\n", ${name}' for name in csrs]
    commands += ["p $cycle", "p $stimecmp", "info registers instret", "p/x $misa"]
    with DebugServer(timer_trace) as server:
        gdb = run_gdb("timer.elf", server.port, commands)
    values = dict(re.findall(r"^CSR (\w+) (\d+)$", gdb.stdout, re.M))
    assert sorted(values) == sorted(csrs), gdb.output
    assert {"mstatus", "mie", "mip", "medeleg", "mideleg", "time"} <= set(values)
    assert int(values["time"]) == icount_of(gdb.stderr)          # the virtual clock: 1 tick
    assert int(values["mstatus"]) & int(values["sstatus"]) == int(values["sstatus"])
    assert re.search(r"^\$1 = void$", gdb.stdout, re.M) and re.search(r"^\$2 = void$",
                                                                       gdb.stdout, re.M)
    assert "Invalid register `instret'" in gdb.stderr
    assert re.search(r"^\$3 = 0x800000000014112d$", gdb.stdout, re.M)   # RV64ACDFIMSU


def test_refused_memory_write_says_why(timer_trace):
    """gdb prints only "Cannot access memory" for a refused write; the stub's reason follows
    at the next step (G17), and a register write shows it at once."""
    commands = ["set var ticks = 5", "stepi", "set var $a0 = 1"]
    with DebugServer(timer_trace) as server:
        gdb = run_gdb("timer.elf", server.port, commands)
    ticks = _symbol("timer.elf", "ticks")[0]
    assert f"Cannot access memory at address {ticks:#x}" in gdb.stderr, gdb.output
    assert (f"rrvm: the debugger's request to write memory at {ticks:#x} was refused: "
            f"{READ_ONLY_REASON}") in gdb.output
    assert f"Could not write register \"a0\"; remote failure reply 'E.{READ_ONLY_REASON}'" \
        in gdb.stderr


def test_backtrace_through_the_trap_frame(timer_trace):
    """With rrvm's unwinder loaded, `bt` in the handler goes on into the interrupted code,
    whose registers are the ones the trap entry saved (G23)."""
    commands = ["break trap_handler", "continue", "bt", "p/x $sepc", "frame 2",
                PRINT_PC.format(tag="INTERRUPTED"), "p/x $sp", "frame 0", "p/x tf->regs[2]"]
    with DebugServer(timer_trace) as server:
        plain = run_gdb("timer.elf", server.port, commands[:3])
    with DebugServer(timer_trace) as server:
        gdb = run_gdb("timer.elf", server.port, commands, setup=(SOURCE_TRAP_UNWINDER,))
    assert "#2" not in plain.stdout and "#1  0x" in plain.stdout, plain.output
    out = gdb.stdout
    assert re.search(r"#1  0x0*802000ba in trap_entry \(\) at common/trap\.S", out), gdb.output
    match = re.search(r"#2  (0x[0-9a-f]+) in main \(\) at timer/timer\.c", out)
    assert match, gdb.output
    sepc = int(re.search(r"^\$1 = (0x[0-9a-f]+)$", out, re.M).group(1), 16)
    assert int(match.group(1), 16) == sepc == pc_values(out, "INTERRUPTED")[0]
    saved_sp = re.search(r"^\$2 = (0x[0-9a-f]+)$", out, re.M).group(1)
    assert re.search(rf"^\$3 = {saved_sp}$", out, re.M)        # the trap frame's sp


def test_monitor_commands_take_the_repl_expressions(demo_crash_trace):
    """`monitor last-write` and `monitor when` read registers, symbols and sums as the REPL
    does (gdb passes the text through): each expression gives what its value, formatted by
    gdb's own `eval`, gives; `when` lists the writes the REPL lists; a bad expression gets the
    REPL's one-line error."""
    pairs = [("monitor last-write $sp+8 8", 'eval "monitor last-write %#lx 8", $sp+8'),
             ("monitor last-write $a0", 'eval "monitor last-write %#lx", $a0'),
             ("monitor last-write shared_list",
              'eval "monitor last-write %#lx %d", &shared_list, sizeof(shared_list)')]
    commands = ["break list_push", "continue", "continue", "delete"]
    commands += [command for pair in pairs for command in pair]
    commands += ["monitor when shared_list+8 8", "monitor last-write no_such_symbol 8",
                 "monitor when $sp+", "monitor last-write $xyz", "monitor when shared_list 0"]
    with DebugServer(demo_crash_trace) as server:
        gdb = run_gdb("demo.elf", server.port, commands)
    lines = gdb.stderr.splitlines()          # gdb prints monitor output on stderr, in order
    last_writes = [line for line in lines if line.startswith("last write to ")]
    assert len(last_writes) == 2 * len(pairs), gdb.output
    for expression, value in zip(last_writes[::2], last_writes[1::2]):
        assert re.match(r"last write to \S+ \(0x[0-9a-f]+(, \d+ bytes)?\) before instruction "
                        r"\d+: instruction \d+, pc 0x[0-9a-f]+ <\w+\+0x[0-9a-f]+>: ",
                        expression), expression
        assert expression == value
    assert last_writes[4].startswith("last write to shared_list (0x80202000, 16 bytes)")
    # shared_list.count: zeroed with .bss, then the first push makes it 1 (demo/demo.c).
    start = next(n for n, line in enumerate(lines) if " in history" in line)
    assert re.match(r"\d+ writes to shared_list\+0x8 \(0x80202008, 8 bytes\) in history:$",
                    lines[start]), lines[start:start + 3]
    assert re.search(r"<_start\+0x[0-9a-f]+>: .*: shared_list\+0x8 0x0 -> 0x0$", lines[start + 1])
    assert re.search(r"<list_push\+0x[0-9a-f]+>: .*: shared_list\+0x8 0x0 -> 0x1$",
                     lines[start + 2])
    icounts = re.findall(r"^  instruction (\d+),", gdb.stderr, re.M)
    assert len(icounts) == int(lines[start].split()[0])
    repl = subprocess.run([*RRVM, "repl", str(demo_crash_trace), "-c", "when shared_list+8 8"],
                          cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert icounts == re.findall(r"^ +(?:=> +)?(\d+) +0x", repl.stdout, re.M)
    assert [line for line in lines if line.startswith("rrvm: ")] == [
        "rrvm: last-write: no symbol named 'no_such_symbol'",
        "rrvm: when: cannot read the address '$sp+'",
        "rrvm: last-write: unknown register '$xyz'",
        "rrvm: when: a length of 0 bytes watches nothing"]


@pytest.fixture(scope="module")
def virtio_trace(tmp_path_factory):
    """The virtio guest reading its disk (a copy) into sector_buf."""
    disk_image = BIN / "virtio-disk.img"
    if not (BIN / "virtio.elf").is_file() or not disk_image.is_file():
        pytest.skip("guests/bin/virtio.elf or virtio-disk.img not built (make -C guests)")
    directory = tmp_path_factory.mktemp("gdb")
    disk = shutil.copy(disk_image, directory / "disk.img")
    trace = directory / "virtio.rr"
    done = subprocess.run([*RRVM, "record", str(BIN / "virtio.elf"), "--disk", str(disk),
                           "--rng", "-o", str(trace)], cwd=REPO, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 0 and b"boot count 0 -> 1" in done.stdout, done.stderr
    return trace


def test_gdb_watchpoints_pass_dma_and_monitor_last_write_names_it(virtio_trace):
    """As on hardware and QEMU, a watchpoint does not stop on virtio-blk filling the
    buffer: set after the first disk read, it passes the second (which clears the first
    bytes) and stops on memset, whose value gdb then sees change. `monitor last-write`
    names the device's write (docs/watchpoints.md, "Device DMA")."""
    address, _ = _symbol("virtio.elf", "sector_buf")
    with TraceReader(virtio_trace) as reader:
        timeline = Timeline(ReplaySession(reader, lambda data: None))
        dma = [w for w in queries.writes(timeline, address, 8) if w.device is not None]
        end = timeline.seek(1 << 40)
    assert len(dma) == 3
    commands = [f"monitor seek {dma[0].icount + 1}", "watch *(long *)&sector_buf", "continue",
                "monitor icount", PRINT_PC.format(tag="PC"), "delete",
                f"monitor seek {end}", f"monitor last-write {address:#x} 8", "kill"]
    with DebugServer(virtio_trace) as server:
        gdb = run_gdb("virtio.elf", server.port, commands)
    stopped = [int(n) for n in re.findall(r"icount (\d+)", gdb.stderr)]
    assert stopped and dma[1].icount < stopped[0] < dma[2].icount, gdb.output
    memset, size = _symbol("virtio.elf", "memset")
    assert memset <= pc_values(gdb.stdout, "PC")[0] < memset + size, gdb.output
    assert f"Old value = {int.from_bytes(b'rrvm vir', 'little')}\nNew value = 0" in gdb.stdout, \
        gdb.output
    assert re.search(rf"last write to sector_buf \({address:#x}, 8 bytes\) before instruction "
                     rf"{end}: virtio-blk DMA during instruction {dma[2].icount}, "
                     rf"pc {dma[2].pc:#x} <submit_and_wait[.\w]*\+0x[0-9a-f]+>: sw zero, 0x50\(",
                     gdb.stderr), gdb.output
