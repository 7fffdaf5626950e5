"""Linux 6.1 (guests/linux/) from the command line: boot against QEMU, record and replay
with typed input, and the sysrq crash found backwards with gdb and with the REPL.

The kernel, initramfs and disk come from guests/linux/build.sh, which the
test command (scripts/test.sh) runs first; they live outside the repository
in ${RRVM_CACHE:-~/.cache/rrvm}/linux/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, RRVM, run_rrvm
from rr.gdbstub.gdb import TRAP_UNWINDER

LINUX = Path(os.environ.get("RRVM_CACHE", Path.home() / ".cache" / "rrvm")) / "linux"
IMAGE, INITRD, DISK, VMLINUX, INIT_ELF = (
    LINUX / name for name in ("Image", "initramfs.cpio.gz", "disk.img", "vmlinux", "init.elf"))
GDB_SCRIPTS = LINUX / "vmlinux-gdb.py"      # the kernel's own gdb helpers, beside vmlinux
GDB = shutil.which("gdb-multiarch")
QEMU = shutil.which("qemu-system-riscv64")
TIMEOUT = 180
# The crash run panics at about 59 M instructions, then spins in panic(): stop it there.
CRASH_LIMIT = "64000000"
NO_HISTORY = "No more reverse-execution history."

pytestmark = pytest.mark.skipif(
    not all(path.is_file() for path in (IMAGE, INITRD, DISK, VMLINUX)),
    reason=f"no Linux build in {LINUX} (guests/linux/build.sh makes it)")


def boot_args(append: str = "console=ttyS0") -> list[str]:
    return [str(IMAGE), "--initrd", str(INITRD), "--append", append, "--disk", str(DISK),
            "--rng"]


def init_lines(output: bytes) -> list[str]:
    """What our /init printed, less the values that differ from run to run."""
    lines = []
    for line in output.decode(errors="replace").replace("\r", "").splitlines():
        if not line.startswith("rrvm init: "):
            continue
        line = re.sub(r"hwrng: 8 bytes [0-9a-f.]+", "hwrng: 8 bytes ...", line)
        lines.append(re.sub(r"uptime: .*", "uptime: ...", line))
    return lines


def test_boots_to_init_like_qemu():
    ours = run_rrvm("run", *boot_args(), timeout=TIMEOUT)
    assert ours.returncode == 0, ours.stderr.decode(errors="replace")
    lines = init_lines(ours.stdout)
    assert 'rrvm init: disk says: "rrvm disk: hello from the virtio disk"' in lines
    assert "rrvm init: hwrng: 8 bytes ..." in lines
    assert "rrvm init: cpus online: 0" in lines          # one hart (sysfs's list of CPUs)
    assert lines[-1] == "rrvm init: goodbye, powering off"
    if QEMU is None:
        pytest.skip("qemu-system-riscv64 is not installed")
    qemu = subprocess.run(
        [QEMU, "-M", "virt", "-m", "128M", "-nographic", "-bios", "default",
         "-kernel", str(IMAGE), "-initrd", str(INITRD), "-append", "console=ttyS0",
         "-global", "virtio-mmio.force-legacy=false",
         "-drive", f"file={DISK},if=none,format=raw,id=d0,readonly=on",
         "-device", "virtio-blk-device,drive=d0", "-device", "virtio-rng-device"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert init_lines(qemu.stdout) == lines


def test_record_with_typed_input_replays_identically(tmp_path):
    """Input typed when init asks for it (host clock: init's 3 s are real seconds)."""
    trace = tmp_path / "linux.rrt"
    proc = subprocess.Popen([*RRVM, "record", *boot_args(), "--clock", "host", "-o", str(trace)],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    output = bytearray()
    deadline = time.monotonic() + TIMEOUT
    typed = False
    while time.monotonic() < deadline:
        chunk = proc.stdout.read1(4096)
        if not chunk:
            break
        output += chunk
        if not typed and b"type a line within 3 s:" in output:
            proc.stdin.write(b"hello from the test\r")
            proc.stdin.flush()
            typed = True
    proc.stdin.close()
    assert proc.wait(TIMEOUT) == 0, proc.stderr.read().decode(errors="replace")
    assert 'rrvm init: read from console: "hello from the test"' in init_lines(bytes(output))
    replay = run_rrvm("replay", str(trace), timeout=TIMEOUT)
    assert replay.returncode == 0, replay.stderr.decode(errors="replace")   # state verified
    assert replay.stdout == bytes(output)


@pytest.fixture(scope="module")
def crash_trace(tmp_path_factory) -> Path:
    trace = tmp_path_factory.mktemp("linux") / "crash.rrt"
    rec = run_rrvm("record", *boot_args("console=ttyS0 crash"), "--max-insns", CRASH_LIMIT,
                   "-o", str(trace), timeout=TIMEOUT)
    assert rec.returncode == 4, rec.stderr.decode(errors="replace")
    assert b"Kernel panic - not syncing: sysrq triggered crash" in rec.stdout
    return trace


def _gdb_on(trace: Path, commands: list[str], setup: tuple[str, ...] = (),
            debug_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """gdb-multiarch in batch mode with vmlinux, on `rrvm debug TRACE [DEBUG_ARGS]`."""
    proc = subprocess.Popen([*RRVM, "debug", str(trace), "--gdb", "0", *debug_args], cwd=REPO,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r"waiting for gdb on [\d.]+:(\d+)", proc.stderr.readline()).group(1))
        args = [GDB, "-nx", "-batch", "-ex", "set confirm off", "-ex", "set pagination off"]
        for line in (*setup, f"file {VMLINUX}", f"target remote 127.0.0.1:{port}", *commands):
            args += ["-ex", line]
        gdb = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT)
        proc.wait(TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    return gdb


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")
def test_crash_found_backwards_with_gdb(crash_trace):
    commands = ["break panic", "continue", "bt", "delete", "continue",
                "watch panic_cpu", "reverse-continue", "bt 2", "p panic_cpu",
                "delete", "break sysrq_handle_crash", "reverse-continue", "bt 3"]
    gdb = _gdb_on(crash_trace, commands)
    out = gdb.stdout
    # The panic, reached by its sysrq path.
    assert re.search(r"Breakpoint 1, panic \(", out), gdb.stdout + gdb.stderr
    for frame in ("sysrq_handle_crash", "__handle_sysrq", "write_sysrq_trigger"):
        assert frame in out
    assert NO_HISTORY in out                       # the end: the recorded --max-insns stop
    # Back from the end: the store that claimed panic_cpu, in panic().
    assert re.search(r"Hardware watchpoint 2: panic_cpu\s+Old value = \{counter = 0\}\s+"
                     r"New value = \{counter = -1\}", out), out
    assert re.search(r"#0 .*panic \(fmt=", out)
    assert re.search(r"^\$1 = \{counter = -1\}$", out, re.M)
    assert re.search(r"Breakpoint 3, .*sysrq_handle_crash", out), out


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")
def test_backtrace_through_the_system_call_into_user_space(crash_trace):
    """rrvm's trap-frame unwinder (docs/gdb-protocol.md, G23) takes `bt` from panic() through
    the write() system call's pt_regs into init, at the instruction after its ecall (Linux
    saves epc + 4 for a system call)."""
    gdb = _gdb_on(crash_trace, ["break panic", "continue", "bt", "p/x $sepc"],
                  setup=(f"source {TRAP_UNWINDER}",))
    out = gdb.stdout
    frames = re.findall(r"^#(\d+) +(?:(0x[0-9a-f]+) in )?(\w+|\?\?) \(", out, re.M)
    names = [name for _, _, name in frames]
    assert names[:3] == ["panic", "sysrq_handle_crash", "__handle_sysrq"], out + gdb.stderr
    entry = names.index("handle_exception")
    assert "ksys_write" in names[:entry]
    sepc = int(re.search(r"^\$1 = (0x[0-9a-f]+)$", out, re.M).group(1), 16)
    assert sepc < 0x8000_0000                                  # the ecall, in init
    assert frames[entry + 1][1:] == (f"{sepc + 4:#018x}", "??"), out


def test_crash_found_backwards_with_the_repl(crash_trace):
    proc = run_rrvm("repl", str(crash_trace), "--symbols", str(VMLINUX), "-c",
                    "goto end; where; when panic_cpu 4; break sysrq_handle_crash; rcontinue; "
                    "where; disas $pc 2", timeout=TIMEOUT)
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out + proc.stderr.decode(errors="replace")
    writes = re.findall(r"^ +(\d+) +0x[0-9a-f]+ +panic\+0x[0-9a-f]+ +panic_cpu +"
                        r"0xffffffff -> 0x0$", out, re.M)     # PANIC_CPU_INVALID -> cpu 0
    assert len(writes) == 1, out
    assert re.search(r"^pc +0x[0-9a-f]+ <sysrq_handle_crash>", out, re.M), out


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")
def test_watch_set_before_paging_catches_the_store_in_panic(crash_trace):
    """`watch panic_cpu` at instruction 0 (the MMU still off, the address unmapped):
    continue stops after panic()'s store, reverse-continue from the end before it."""
    gdb = _gdb_on(crash_trace, ["watch panic_cpu", "continue", "bt 2", "p/x $pc",
                                "continue", "reverse-continue", "bt 2", "p/x $pc"])
    out = gdb.stdout + gdb.stderr
    # Unreadable when set (gdb's own value then), PANIC_CPU_INVALID -> cpu 0 at the store.
    assert re.search(r"Hardware watchpoint 1: panic_cpu\s+Old value = <unreadable>\s+"
                     r"New value = \{counter = 0\}", out), out
    assert NO_HISTORY in out
    assert re.search(r"Hardware watchpoint 1: panic_cpu\s+Old value = \{counter = 0\}\s+"
                     r"New value = \{counter = -1\}", out), out
    assert len(re.findall(r"#1 .*atomic_cmpxchg \(new=0, old=-1", out)) == 2, out
    after, before = (int(pc, 16) for pc in re.findall(r"^\$\d+ = (0x[0-9a-f]+)$", out, re.M))
    assert after - before == 4                     # the same sc.w, after it and before it


def test_when_from_instruction_0_lists_the_store_in_panic(crash_trace):
    proc = run_rrvm("repl", str(crash_trace), "--symbols", str(VMLINUX), "-c",
                    "when panic_cpu 4", timeout=TIMEOUT)
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out + proc.stderr.decode(errors="replace")
    assert re.search(r"^1 write to panic_cpu \(0xffffffff[0-9a-f]+, 4 bytes\)", out, re.M), out
    assert re.search(r"^ +\d+ +0x[0-9a-f]+ +panic\+0x[0-9a-f]+ +panic_cpu +0xffffffff -> 0x0$",
                     out, re.M), out


def test_a_boot_with_a_virtual_watch_is_the_same_run(crash_trace):
    """The watch makes every satp access and sfence.vma of the boot trap and be emulated:
    the states at random positions and the recorded final state must not change."""
    import random

    from rr.log.trace_reader import TraceReader
    from rr.monitor.state_digest import state_digest
    from rr.replay.hits import HitCollector, WatchKind, Watchpoint
    from rr.replay.replay_session import ReplaySession
    from rr.repl.symbols import SymbolTable

    panic_cpu = SymbolTable.from_elf(VMLINUX.read_bytes()).get("panic_cpu").address
    positions = sorted(random.Random("linux-virtual-watch").sample(range(1, 63_000_000), 4))
    digests = {}
    for watched in (False, True):
        session = ReplaySession(TraceReader(crash_trace), lambda data: None)
        collector = HitCollector(session.board, (), [Watchpoint(panic_cpu, 4, WatchKind.ACCESS)],
                                 -1) if watched else None
        for position in positions:
            session.loop.run(position)
            digests.setdefault(position, set()).add(state_digest(session.board))
        outcome = session.run()
        assert outcome.verified                     # the recording's final state hash
        if collector is not None:
            assert session.board.address_spaces.changes > 100
            assert collector.hits and all(hit.address == panic_cpu for hit in collector.hits)
            collector.remove()
    assert all(len(seen) == 1 for seen in digests.values()), digests


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")
def test_monitor_commands_name_kernel_symbols(crash_trace):
    """`rrvm debug --symbols vmlinux`: monitor commands take the kernel's symbols, as the
    REPL does; the one write to panic_cpu is panic()'s claim of it."""
    gdb = _gdb_on(crash_trace, ["monitor when panic_cpu", "monitor seek 63000000",
                                "monitor last-write panic_cpu", "monitor when panic_cpux"],
                  debug_args=("--symbols", str(VMLINUX)))
    out = gdb.stderr
    assert re.search(r"^1 write to panic_cpu \(0xffffffff[0-9a-f]+, 4 bytes\) in history:$",
                     out, re.M), gdb.stdout + out
    store = re.search(r"^  instruction (\d+), pc 0x[0-9a-f]+ <panic\+0x[0-9a-f]+>: .*: "
                      r"panic_cpu 0xffffffff -> 0x0$", out, re.M)
    assert store, out
    assert re.search(rf"^last write to panic_cpu \(.*\) before instruction 63000000: "
                     rf"instruction {store.group(1)}, ", out, re.M), out
    assert "rrvm: when: no symbol named 'panic_cpux'" in out


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")
def test_the_kernels_gdb_helpers_read_the_replay(crash_trace):
    """Linux's own gdb scripts (CONFIG_GDB_SCRIPTS, loaded by gdb beside vmlinux) walk the
    kernel's data structures through the stub's memory reads: lx-dmesg prints the log the
    recorded console showed, lx-ps the tasks, init among them."""
    assert GDB_SCRIPTS.is_file(), \
        f"no {GDB_SCRIPTS}: the Linux build predates this tree's guests/linux (rerun build.sh)"
    console = subprocess.run([*RRVM, "replay", str(crash_trace)], cwd=REPO,
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    console_lines = console.stdout.decode(errors="replace").replace("\r", "").splitlines()
    gdb = _gdb_on(crash_trace, ["break panic", "continue", "lx-dmesg", "lx-ps"],
                  setup=(f"add-auto-load-safe-path {LINUX}",))
    out = gdb.stdout
    assert "Python Exception" not in gdb.stderr, gdb.stderr
    logged = [re.sub(r"^\[ *\d+\.\d{6}\] ", "", line)
              for line in out.splitlines() if re.match(r"^\[ *\d+\.\d{6}\] ", line)]
    assert logged[0].startswith("Linux version 6.1"), out
    assert logged[-1] == "sysrq: Trigger a crash"          # panic() has printed nothing yet
    # Every console line up to the crash trigger, in order (the log also keeps lines below
    # the console's level).
    shown = console_lines[:console_lines.index("sysrq: Trigger a crash") + 1]
    kernel = [line for line in shown if not line.startswith("rrvm init: ")]
    assert len(kernel) > 50
    position = 0
    for line in kernel:
        assert line in logged[position:], line
        position = logged.index(line, position) + 1
    tasks = {int(pid): comm for pid, comm in re.findall(r"^0x[0-9a-f]+ +(\d+) +(\S+)$", out,
                                                        re.M)}
    assert tasks.get(0) == "swapper" and tasks.get(1) == "init", out
    assert "kthreadd" in tasks.values()


def test_a_variable_of_init_watched_from_instruction_0_is_hit_in_its_address_space(crash_trace):
    """glibc's start code in /init (guests/linux/init.c, static) stores the environment
    pointer in ``environ`` twice: in __libc_start_main, then the same value again in
    __libc_init_first. Watched from instruction 0, long before any user process exists
    (the address maps nothing in the kernel's page tables), `when` lists exactly those
    two stores, made in user mode under init's page tables; the memory behind the
    variable is written before that through the kernel's own mapping (a physical watch
    sees it), which is not a hit."""
    assert INIT_ELF.is_file(), \
        f"no {INIT_ELF}: the Linux build predates this tree's guests/linux (rerun build.sh)"
    from rr.log.trace_reader import TraceReader
    from rr.monitor.constants import PRIV_S, PRIV_U
    from rr.replay import queries
    from rr.replay.hits import WatchSpace
    from rr.replay.replay_session import ReplaySession
    from rr.replay.timeline import Timeline
    from rr.repl.symbols import SymbolTable

    symbols = SymbolTable.from_elf(INIT_ELF.read_bytes())
    environ = symbols.get("environ").address
    proc = run_rrvm("repl", str(crash_trace), "--symbols", str(INIT_ELF), "-c",
                    "when environ 8", timeout=TIMEOUT)
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out + proc.stderr.decode(errors="replace")
    rows = re.findall(r"^ +(\d+) +0x[0-9a-f]+ +(\w+)\+0x[0-9a-f]+ +environ +(.*)$", out, re.M)
    assert f"2 writes to environ ({environ:#x}, 8 bytes)" in out, out
    assert [function for _, function, _ in rows] == ["__libc_start_main_impl",
                                                       "__libc_init_first"], out
    envp = re.fullmatch(r"0x0 -> (0x[0-9a-f]+)", rows[0][2]).group(1)
    assert rows[1][2] == f"{envp} (unchanged)", out

    with TraceReader(crash_trace) as reader:
        timeline = Timeline(ReplaySession(reader, lambda data: None))
        writes = queries.writes(timeline, environ, 8)
        assert [str(write.icount) for write in writes] == [icount for icount, _, _ in rows]
        cpu = timeline.board.cpu
        seen = set()
        for write in writes:
            timeline.seek(write.icount)
            seen.add((cpu.priv, cpu.csr("satp"), timeline.board.memory.translate(environ)))
        assert len(seen) == 1 and next(iter(seen))[0] == PRIV_U     # one process: init
        paddr = seen.pop()[2]
        physical = queries.writes(timeline, paddr, 8, space=WatchSpace.PHYSICAL)
        others = [write for write in physical if write.icount < writes[0].icount]
        assert others and {write.icount for write in physical} >= \
            {write.icount for write in writes}
        timeline.seek(others[-1].icount)                # the kernel, through its mapping
        assert cpu.priv == PRIV_S and cpu.pc >= 1 << 63


def record_typed(trace: Path, line: bytes) -> Path:
    """A boot (virtual clock) with ``line`` typed when init asks for one."""
    proc = subprocess.Popen([*RRVM, "record", *boot_args(), "-o", str(trace)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    output = bytearray()
    while chunk := proc.stdout.read1(4096):
        output += chunk
        if b"type a line within 3 s:" in output and not proc.stdin.closed:
            proc.stdin.write(line + b"\r")
            proc.stdin.close()
    assert proc.wait(TIMEOUT) == 0, proc.stderr.read().decode(errors="replace")
    assert f'rrvm init: read from console: "{line.decode()}"' in init_lines(bytes(output))
    trace.with_suffix(".out").write_bytes(output)       # what the guest printed
    return trace


@pytest.fixture(scope="module")
def typed_trace(tmp_path_factory) -> Path:
    return record_typed(tmp_path_factory.mktemp("linux") / "typed.rrt", b"xyz")


def test_origin_of_a_console_byte_init_read(typed_trace):
    """init's read(0, line, 127) (ksys_read with fd 0, found with `rrvm trace`): the line's
    first byte goes back through copy_to_user, the n_tty read buffer, the tty flip buffer
    and the 8250 driver to the UART's receive register and the console_input event."""
    symbols = ("--symbols", str(VMLINUX))
    done = run_rrvm("trace", str(typed_trace), "ksys_read", "$a0", "$a1", *symbols, "--json",
                    timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    hits = json.loads(done.stdout)["hits"]
    console = next(n for n, hit in enumerate(hits) if hit["values"]["$a0"] == 0)
    line, after = hits[console]["values"]["$a1"], hits[console + 1]["icount"]
    done = run_rrvm("origin", str(typed_trace), str(after), hex(line), "1", *symbols, "--json",
                    timeout=2 * TIMEOUT)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    result = json.loads(done.stdout)
    assert result["value"] == ord("x")
    steps = result["steps"]
    functions = [step["function"].split("+")[0] for step in steps]
    assert functions[0] == "__asm_copy_to_user" and steps[0]["kind"] == "store"
    order = [functions.index(name) for name in ("put_tty_queue", "__tty_insert_flip_char",
                                                "serial8250_read_char")]
    assert order == sorted(order), functions
    end = steps[-1]
    assert result["end"] == "device" and end["value"] & 0xFF == ord("x")
    assert "uart16550 register 0x0" in end["what"]
    assert "console_input" in end["what"] and "data=b'xyz\\r'" in end["what"]


def test_origin_of_hwrng_bytes_is_the_entropy_device(typed_trace):
    """init's read(fd, b, 8) of /dev/hwrng (ksys_read with 8 bytes): the first byte goes
    back through copy_to_user and the driver's copies to memory that no instruction wrote
    last (virtio-rng's DMA), named with the entropy event; init printed the same byte."""
    symbols = ("--symbols", str(VMLINUX))
    done = run_rrvm("trace", str(typed_trace), "ksys_read", "$a1", "$a2", *symbols, "--json",
                    timeout=TIMEOUT)
    hits = json.loads(done.stdout)["hits"]
    read = next(n for n, hit in enumerate(hits) if hit["values"]["$a2"] == 8)
    buffer, after = hits[read]["values"]["$a1"], hits[read + 1]["icount"]
    done = run_rrvm("origin", str(typed_trace), str(after), hex(buffer), "1", *symbols,
                    "--json", timeout=2 * TIMEOUT)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    result = json.loads(done.stdout)
    printed = re.search(r"hwrng: 8 bytes ([0-9a-f]{2})",
                        typed_trace.with_suffix(".out").read_text(errors="replace"))
    assert result["value"] == int(printed.group(1), 16)
    assert result["steps"][0]["function"].startswith("__asm_copy_to_user")
    assert result["end"] == "dma"
    assert "written by a device (virtio-rng DMA during instruction " in \
        result["steps"][-1]["what"]
    assert "; entropy: event #" in result["steps"][-1]["what"]


def test_diff_of_two_boots(typed_trace, tmp_path):
    """Two boots with --rng differ from instruction 0 (the device tree's rng-seed); the pcs
    agree for the 8 M instructions compared after that (hooked replays of both runs stay
    the same run), and the schedules part later (a timer tick from another pc). The other
    line is longer, so the tty layer runs longer on it: a line of the same length can
    reach the idle guest at the same instruction, and the two boots then take the same
    traps throughout."""
    other = record_typed(tmp_path / "other.rrt", b"a longer line")
    done = run_rrvm("diff", str(typed_trace), str(other), "--json", timeout=4 * TIMEOUT)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    result = json.loads(done.stdout)
    assert result["inputs"]["setting"] == "rng_seed"
    assert result["inputs"]["good"] != result["inputs"]["bad"]
    assert result["state"]["position"] == 0 and result["state"]["memory_words"] > 0
    assert result["flow"] is None
    traps = result["traps"]
    assert traps is not None and traps["good"]["icount"] > 8_000_000
