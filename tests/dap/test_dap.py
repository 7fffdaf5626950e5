"""`rrvm dap` driven by the reference client library (@vscode/debugadapter-testsupport,
tests/dap/scenario.js) over a replay of the demo; gdb-multiarch's line table and a
Timeline of the same trace are the oracles."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gdbstub"))
from gdb_helpers import (SOURCE_TRAP_UNWINDER, DebugServer,  # noqa: E402  (gdb's side)
                         run_gdb)

from analysis.analysis_helpers import DEMO_PASS_NS, record_fixed
from rr.log.trace_reader import TraceReader
from rr.replay.hits import Watchpoint
from rr.replay.replay_session import ReplaySession
from rr.replay.timeline import Timeline
from rr.repl.symbols import SymbolTable

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEMO = REPO / "guests" / "bin" / "demo.elf"
SOURCE = REPO / "guests" / "demo" / "demo.c"
LINE = 79                 # shared_list.head = n;  in list_push
FUNCTION = "payload_checksum"   # called from list_push, line 77
TIMEOUT = 60
TYPES = HERE / "guest" / "types.c"     # locals of every kind of C type
GUESTS = REPO / "guests"
CROSS_GCC = "riscv64-unknown-elf-gcc"
# The flags guests/Makefile builds our guests with (warnings aside: the locals are unused).
GUEST_CFLAGS = ("-march=rv64imac_zicsr_zifencei", "-mabi=lp64", "-mcmodel=medany", "-g", "-O2",
                "-std=gnu11", "-ffreestanding", "-fno-builtin",
                "-fno-tree-loop-distribute-patterns", "-fno-stack-protector", "-fno-pic",
                "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-Icommon")
GUEST_LDFLAGS = ("-nostdlib", "-static", "-T", "common/link.ld", "-Wl,--build-id=none",
                 "-Wl,--no-warn-rwx-segments", "-lgcc")

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (HERE / "node_modules" / "@vscode").is_dir(),
    reason="needs node and `npm ci` in tests/dap (scripts/test.sh does it)")


@pytest.fixture(scope="module")
def demo_trace(tmp_path_factory) -> Path:
    """The demo with one fixed RTC reading (its tasks' seeds): the same run every time,
    so where its first timer interrupt lands, which the stack tests compare with gdb, is
    too. (At an interrupted pc right after inlined code gdb names the inlined function,
    as it looks up pc - 1 there, and DAP does not: docs/dap-protocol.md.)"""
    trace = record_fixed(tmp_path_factory.mktemp("dap") / "demo.rr", "demo", wall_ns=DEMO_PASS_NS)
    with TraceReader(trace) as reader:
        assert reader.footer is not None
    return trace


def scenario(name: str, trace: Path, port: int | None = None, **extra) -> dict:
    config = {"scenario": name, "python": sys.executable, "repo": str(REPO),
              "trace": str(trace), "sourceRoot": str(REPO / "guests"),
              "source": str(SOURCE), "line": LINE, "function": FUNCTION,
              "image": str(DEMO.parent / "hello.elf"), **extra}
    if port is not None:
        config["port"] = port
    done = subprocess.run(["node", str(HERE / "scenario.js"), json.dumps(config)], cwd=HERE,
                          capture_output=True, text=True, timeout=TIMEOUT)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and "error" not in result, (result, done.stderr)
    return result


def gdb_line(location: str) -> tuple[int, int]:
    """(line, start address) of ``info line LOCATION`` in gdb-multiarch, on demo.elf."""
    if shutil.which("gdb-multiarch") is None:
        pytest.skip("needs gdb-multiarch as the line-table oracle")
    out = subprocess.run(["gdb-multiarch", "-batch", "-ex", f"info line {location}", str(DEMO)],
                         capture_output=True, text=True, timeout=TIMEOUT).stdout
    match = re.search(r'Line (\d+) of "[^"]*demo\.c" starts at address (0x[0-9a-f]+)', out)
    assert match, out
    return int(match.group(1)), int(match.group(2), 16)


def gdb_backtrace(trace: Path, commands: list[str], elf: Path = DEMO
                  ) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    """(function, line) of each frame of gdb-multiarch's `bt` against `rrvm debug`, and
    each `name = value` line it printed."""
    if shutil.which("gdb-multiarch") is None:
        pytest.skip("needs gdb-multiarch as the unwinding oracle")
    with DebugServer(trace) as server:
        out = run_gdb(elf, server.port, [*commands, "kill"]).stdout
    frames = re.findall(r"^#\d+ +(?:0x[0-9a-f]+ in )?(\w+) \(.*\) at [\w/.]+:(\d+)$", out,
                        re.M)
    # gdb names the symbol a pointer points into (`0x... <node_pool>`); the adapter does not.
    values = [(name, re.sub(r" <[A-Za-z_][\w.]*(\+\d+)?>$", "", value))
              for name, value in re.findall(r"^(\w+) = (.*)$", out, re.M)]
    return [(name, int(line)) for name, line in frames], values


def hits_of(trace: Path, address: int, count: int) -> list[int]:
    """The icounts of the first ``count`` times pc reaches ``address``."""
    with TraceReader(trace) as reader:
        timeline = Timeline(ReplaySession(reader, lambda data: None))
        found = []
        for _ in range(count):
            hit = timeline.run_forward([address], include_current=not found)
            found.append(hit.icount)
        return found


class Port:
    """`python -m rr dap --port 0 [ARGS]`, its port read from the waiting line."""

    def __init__(self, *args: str) -> None:
        self.args = args

    def __enter__(self) -> int:
        self.proc = subprocess.Popen([sys.executable, "-m", "rr", "dap", "--port", "0",
                                      *self.args],
                                     cwd=REPO, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, line
        return int(match.group(1))

    def __exit__(self, *exc) -> None:
        self.status = self.proc.wait(timeout=TIMEOUT)
        self.stderr = self.proc.stderr.read()


@pytest.mark.parametrize("transport", ["stdio", "port"])
def test_breakpoint_by_line_stack_and_step_back(demo_trace, transport):
    line, address = gdb_line(f"demo.c:{LINE}")
    first, second = hits_of(demo_trace, address, 2)
    if transport == "port":
        server = Port()
        with server as port:
            result = scenario("breakpoint", demo_trace, port)
        assert server.status == 0 and "Traceback" not in server.stderr, server.stderr
    else:
        result = scenario("breakpoint", demo_trace)
    caps = result["capabilities"]
    for name in ("supportsStepBack", "supportsConfigurationDoneRequest",
                 "supportsDataBreakpoints", "supportsDisassembleRequest",
                 "supportsReadMemoryRequest"):
        assert caps[name] is True, name
    [placed] = result["set"]
    assert placed["verified"] and placed["line"] == line
    assert int(placed["instructionReference"], 16) == address
    assert result["stop"]["reason"] == "breakpoint"
    assert result["stop"]["hitBreakpointIds"] == [placed["id"]]
    at = result["at"]
    assert (at["line"], int(at["pc"], 16), at["icount"]) == (line, address, first)
    assert at["path"] == str(SOURCE) and at["name"].startswith("list_push")
    # A line step back: the previous instruction is another line, as gdb maps it.
    behind = result["behind"]
    assert result["back"]["reason"] == "step"
    assert behind["icount"] == first - 1
    assert (behind["line"], int(behind["pc"], 16)) == gdb_line(f"*{behind['pc']}")
    # An instruction step back over the call just before (payload_checksum) ...
    insn = result["behindInsn"]
    assert insn["icount"] < behind["icount"] - 1 and insn["name"].startswith("list_push")
    # ... and a line step forward over it again, to the breakpoint's line.
    assert (result["ahead"]["icount"], result["ahead"]["line"]) == (first, line)
    assert result["again"]["reason"] == "breakpoint" and result["second"]["icount"] == second


def test_reverse_continue_to_a_data_breakpoint(demo_trace):
    symbols = SymbolTable.from_elf(DEMO.read_bytes())
    shared = symbols.get("shared_list")
    with TraceReader(demo_trace) as reader:
        status = reader.footer.exit_status
        timeline = Timeline(ReplaySession(reader, lambda data: None))
        last = timeline.all_hits(watchpoints=[Watchpoint(shared.address, shared.size,
                                                         "write")])[-1]
        timeline.seek(last.icount)
        pc = timeline.board.cpu.pc
        offset = shared.address - timeline.board.ram.base
        memory = bytes(timeline.board.ram.map[offset:offset + shared.size])
    result = scenario("watch", demo_trace)
    assert result["end"]["reason"] == "end of history" and result["exitCode"] == status
    assert result["info"]["dataId"] and "write" in result["info"]["accessTypes"]
    assert result["set"][0]["verified"]
    assert result["hit"]["reason"] == "data breakpoint"
    assert result["hit"]["text"].startswith("shared_list written")
    at = result["at"]
    assert (at["icount"], int(at["pc"], 16)) == (last.icount, pc)
    assert at["name"].startswith(("list_push", "list_pop")) and at["path"] == str(SOURCE)
    assert re.match(r"(c\.)?sd\s", result["instruction"]["instruction"])
    assert f"icount {last.icount}" in result["regs"]
    assert base64.b64decode(result["memory"]["data"]) == memory
    assert result["bad"] == {"success": False, "message":
                             "evaluate: unknown command 'no-such-command'; "
                             "`help` lists the commands"}
    assert result["goto"]["reason"] == "goto" and result["there"]["icount"] == 1000


def test_entry_function_breakpoint_step_out_and_pause(demo_trace):
    symbols = SymbolTable.from_elf(DEMO.read_bytes())
    function = symbols.get(FUNCTION)
    [first] = hits_of(demo_trace, function.address, 1)
    result = scenario("function", demo_trace)
    assert result["entry"]["reason"] == "entry" and result["start"]["icount"] == 0
    placed, missing = result["set"]
    assert placed["verified"] and int(placed["instructionReference"], 16) == function.address
    assert missing == {"verified": False, "message": "no function named 'no_such_function'"}
    assert result["hit"]["reason"] == "function breakpoint"
    # The call stack, from the DWARF call frame information, as gdb's `bt` has it.
    stack = [(frame["name"].split("+")[0], frame["line"]) for frame in result["stack"]]
    frames, variables = gdb_backtrace(demo_trace, [f"break {FUNCTION}", "continue", "bt",
                                                   "info args", "info locals"])
    assert stack == frames
    assert len(stack) >= 3 and stack[1] == ("list_push", 77)
    # Its parameter and local from their DWARF locations, as gdb shows them.
    assert [tuple(local) for local in result["locals"]] == variables
    assert variables[0][0] == "n" and variables[0][1].startswith("0x")
    assert (result["inside"]["name"], result["inside"]["icount"]) == (FUNCTION, first)
    # Out: just after the call in list_push, on the line that made it (as gdb maps it).
    caller = result["caller"]
    assert result["out"]["reason"] == "step" and caller["name"].startswith("list_push")
    assert caller["icount"] > first
    assert caller["line"] == gdb_line(f"*{caller['pc']}")[0] == 77
    assert result["stepped"]["icount"] == caller["icount"] + 1
    assert result["pause"]["reason"] == "pause"


def test_a_live_guest_prints_exits_and_can_go_back(demo_trace):
    expected = subprocess.run([sys.executable, "-m", "rr", "run", str(DEMO.parent / "hello.elf")],
                              cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=TIMEOUT)
    result = scenario("live", demo_trace)
    assert result["output"].replace("\r", "") == expected.stdout.decode().replace("\r", "")
    assert result["output"] and result["exitCode"] == expected.returncode
    assert result["end"]["reason"] == "end of history"
    assert result["back"]["reason"] == "step"
    assert result["before"]["icount"] == result["last"]["icount"] - 1


def test_pause_stops_a_continue_and_a_reverse_continue_where_they_got_to(demo_trace,
                                                                          tmp_path):
    """compute.elf made to run 5e9 instructions live (its 5e8 take under 2 s on a fast
    machine): a continue paused after 2 s stops inside its loop; a reverse continue towards
    a breakpoint history never reached (poweroff), paused after a tenth of that, stops
    between the start and where it began (searching back is about as fast as running);
    each pause sends one stopped event, reason pause."""
    from conftest import patch_symbol
    compute = patch_symbol(DEMO.parent / "compute.elf", tmp_path / "compute.elf",
                           "iterations", 1_000_000_000)
    result = scenario("pause", demo_trace, image=str(compute), runFor=2000, backFor=200)
    ran, paused = result["ran"], result["paused"]
    assert ran["reason"] == "pause" and ran["text"].startswith("interrupted"), ran
    assert paused["name"].startswith("compute_loop") and paused["icount"] > 1_000_000
    assert result["set"][0]["verified"]
    back, paused_back = result["back"], result["pausedBack"]
    assert back["reason"] == "pause", back
    assert 0 < paused_back["icount"] < paused["icount"]
    assert f"instruction {paused_back['icount']}" in back["description"]
    # Nothing was missed: going on backwards reaches the start without a hit.
    assert result["start"]["reason"] == "start of history" and result["first"]["icount"] == 0
    assert result["stops"] == ["pause", "pause", "start of history"]


def test_the_stack_goes_through_a_trap_frame_as_gdbs_does(demo_trace, tmp_path):
    """At the first timer interrupt's C handler: trap_handler, the trap entry, then the
    interrupted code at its sepc and its callers, as gdb-multiarch's `bt` with rrvm's trap
    unwinder has them (both read trap frames through rr/gdbstub/gdb/trap_frames.py)."""
    result = scenario("stack", demo_trace, function="trap_handler", line=0)
    stack = [(frame["name"].split("+")[0], frame["line"]) for frame in result["stack"]]
    frames, _ = gdb_backtrace(demo_trace, [SOURCE_TRAP_UNWINDER, "break trap_handler",
                                           "continue", "bt"])
    assert stack[:2] == [("trap_handler", stack[0][1]), ("trap_entry", 61)], stack
    assert len(stack) > 3 and stack[-1][0] == "task_entry", stack
    assert [name for name, _ in stack] == [name for name, _ in frames]
    # gdb gives the interrupted frame the line of sepc - 1, as for a return address; the
    # adapter that of sepc, where the interrupted instruction is.
    interrupted = result["stack"][2]
    assert stack[2][1] == gdb_line(f"*{interrupted['pc']}")[0]
    assert stack[:2] + stack[3:] == frames[:2] + frames[3:]
    # The interrupted frame's variables, from the registers the trap saved, are those gdb
    # shows stepped back to the state before the trap was taken (the innermost frame there).
    back = tmp_path / "back.gdb"
    back.write_text("break trap_handler\ncontinue\ndelete\nset $rrsepc = $sepc\n"
                    "while $pc != $rrsepc\n  reverse-stepi\nend\n")
    [before] = gdb_frame_locals(demo_trace, [f"source {back}"], frames=1)
    assert sorted(map(tuple, result["frameLocals"][2])) == sorted(before)
    assert result["frameLocals"][1] == []                   # the trap entry: assembly


def gdb_frame_locals(trace: Path, commands: list[str], frames: int,
                     elf: Path = DEMO) -> list[list[tuple[str, str]]]:
    """gdb-multiarch's `info args` and `info locals` in the selected frame and the
    ``frames`` - 1 above it, after ``commands``."""
    if shutil.which("gdb-multiarch") is None:
        pytest.skip("needs gdb-multiarch as the oracle")
    for n in range(frames):
        commands = [*commands, *(["up"] if n else []), "echo FRAME\\n", "info args",
                    "info locals"]
    with DebugServer(trace) as server:
        out = run_gdb(elf, server.port, [*commands, "echo FRAME\\n", "kill"]).stdout
    parts = out.split("FRAME\n")[1:-1]
    assert len(parts) == frames, out
    return [[(name, re.sub(r" <[A-Za-z_][\w.]*(\+\d+)?>$", "", value))
             for name, value in re.findall(r"^(\w+) = (.*)$", part, re.M)] for part in parts]


def test_locals_of_every_frame_as_gdb_shows_them(demo_trace):
    """At payload_checksum (called from list_push, in producer, inlined into task_entry):
    each frame's Locals scope holds what gdb's `info args` and `info locals` show after
    `up`: caller frames from the registers unwinding restored, an inlined call's frame its
    own variables only."""
    result = scenario("stack", demo_trace, function=FUNCTION, line=0)
    names = [frame["name"].split("+")[0] for frame in result["stack"]]
    assert names[:4] == [FUNCTION, "list_push", "producer", "task_entry"], names
    shown = gdb_frame_locals(demo_trace, [f"break {FUNCTION}", "continue"], frames=4)
    dap = [sorted(map(tuple, frame)) for frame in result["frameLocals"][:4]]
    for frame in (0, 1, 3):
        assert dap[frame] == sorted(shown[frame]), (frame, dap[frame], shown[frame])
    assert any(value != "<optimized out>" for _, value in dap[1])
    # producer, inlined: the variables of its blocks that hold the pc (id; t, cursor; n).
    # gdb adds, as <optimized out>, those of the abstract instance's blocks again (t,
    # cursor, n, and the i of a loop the pc is not in).
    assert [name for name, _ in dap[2]] == ["cursor", "id", "n", "t"]
    assert set(dap[2]) <= set(shown[2])


@pytest.fixture(scope="module")
def types_trace(tmp_path_factory) -> tuple[Path, Path]:
    """tests/dap/guest/types.c built as our guests are, and a recording of it."""
    if shutil.which(CROSS_GCC) is None:
        pytest.skip(f"{CROSS_GCC} is not installed")
    where = tmp_path_factory.mktemp("types")
    elf, trace = where / "types.elf", where / "types.rr"
    subprocess.run([CROSS_GCC, *GUEST_CFLAGS, "-o", str(elf), "common/start.S", "common/trap.S",
                    "common/lib.c", str(TYPES), *GUEST_LDFLAGS], cwd=GUESTS, check=True,
                   capture_output=True, timeout=TIMEOUT)
    subprocess.run([sys.executable, "-m", "rr", "record", str(elf), "-o", str(trace)],
                   cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT,
                   check=True)
    return elf, trace


def test_locals_are_shown_by_their_dwarf_types(types_trace):
    """Every local of show() (tests/dap/guest/types.c) as gdb-multiarch prints it (`info
    locals`, `whatis`), and with the values its source gives them; the struct, its pointer
    and the arrays have members."""
    elf, trace = types_trace
    line = next(n for n, text in enumerate(TYPES.read_text().splitlines(), 1)
                if "seen();" in text)
    result = scenario("stack", trace, source=str(TYPES), line=line)
    locals_ = {local["name"]: local for local in result["locals"]}
    names = list(locals_)
    commands = [f"break types.c:{line}", "continue", "info locals"]
    commands += [f"whatis {name}" for name in names]
    _, printed = gdb_backtrace(trace, commands, elf)
    values, types = printed[:len(names)], [value for _, value in printed[len(names):]]
    assert [(name, local["value"]) for name, local in locals_.items()] == values
    assert [local["type"] for local in locals_.values()] == types
    expected = {"sc": "-5 '\\373'", "letter": "114 'r'", "newline": "10 '\\n'",
                "s": "-300", "us": "65000", "i": "-123456", "u": "4000000000",
                "l": "-5000000000", "ul": "18000000000000000000", "yes": "true",
                "c": "GREEN", "odd": "7", "zeros": "{4, 0 <repeats 11 times>}",
                "word": "\"rrvm\", '\\000' <repeats 11 times>", "folded": "42",
                "empty": "'\\000' <repeats 299 times>"}
    for name, value in expected.items():
        assert locals_[name]["value"] == value, name
    assert re.fullmatch(r'0x[0-9a-f]+ "hello"', locals_["text"]["value"])
    point = [("x", "-7"), ("tag", "122 'z'"), ("ok", "true"), ("c", "BLUE"),
             ("name", None), ("pair", "{-1, 2}")]
    for holder in ("p", "at"):
        members = [(m["name"], m["value"]) for m in locals_[holder]["members"]]
        assert [(n, v if want is not None else None) for (n, v), (_, want)
                in zip(members, point)] == point, holder
        assert re.fullmatch(r'0x[0-9a-f]+ "origin"', members[4][1])
    assert locals_["at"]["value"] == locals_["p"]["memoryReference"]
    assert [m["value"] for m in locals_["zeros"]["members"]] == ["4"] + ["0"] * 11
    assert "members" not in locals_["i"]


SMP_HARTS = 4


@pytest.fixture(scope="module")
def smp_trace(tmp_path_factory) -> Path:
    trace = tmp_path_factory.mktemp("dap-smp") / "smp.rr"
    done = subprocess.run([sys.executable, "-m", "rr", "record", str(GUESTS / "bin" / "smp.elf"),
                           "--smp", str(SMP_HARTS), "-o", str(trace)], cwd=REPO,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return trace


def test_each_hart_is_a_thread_with_its_own_stack_and_steps(smp_trace):
    """Threads are the harts (hart h is thread h + 1, as gdb numbers them); a breakpoint in
    code only secondary harts run stops with that hart's thread; its stack, registers and
    steps are that hart's, checked against a Timeline of the same trace."""
    entry = SymbolTable.from_elf((GUESTS / "bin" / "smp.elf").read_bytes()) \
        .get("secondary_main").address
    result = scenario("harts", smp_trace, function="secondary_main",
                      source=str(GUESTS / "smp" / "smp.c"))
    assert result["threads"] == [{"id": hart + 1, "name": f"hart {hart}"}
                                 for hart in range(SMP_HARTS)]
    hit, at = result["hit"], result["at"]
    assert hit["reason"] == "function breakpoint" and hit["allThreadsStopped"] is True
    thread = hit["threadId"]
    assert thread != 1                             # the boot hart never enters secondary_main
    assert at["name"] == "secondary_main" and int(at["pc"], 16) == entry
    assert at["a0"] == thread - 1                  # its argument: its own hart id
    boot = result["boot"]
    assert boot["icount"] == at["icount"] and boot["a0"] != at["a0"]
    assert not boot["name"].startswith("secondary_main")
    for stop in ("stepIn", "stepBack", "next"):
        assert result[stop]["threadId"] == thread, (stop, result[stop])
        assert result[stop]["allThreadsStopped"] is True
    stepped, back, ahead = result["stepped"], result["back"], result["ahead"]
    assert int(stepped["pc"], 16) in (entry + 2, entry + 4), stepped
    assert stepped["icount"] > at["icount"]
    assert int(back["pc"], 16) == entry and back["a0"] == thread - 1
    assert ahead["icount"] > back["icount"]
    # A step of the boot hart's thread runs on to that hart's next instruction.
    boot_step, boot_stepped = result["bootStep"], result["bootStepped"]
    assert boot_step["threadId"] == 1 and boot_stepped["a0"] == 0
    assert boot_stepped["icount"] > ahead["icount"]
    assert "no thread" in result["bad"]
    # Out of race() on that thread: back in secondary_main, after the call, still that hart.
    assert result["inRace"]["threadId"] == thread and result["raceTop"]["name"] == "race"
    assert result["out"]["threadId"] == thread, result["out"]
    caller = result["caller"]
    assert caller["name"].startswith("secondary_main+"), caller
    assert caller["icount"] > result["raceTop"]["icount"]
    with TraceReader(smp_trace) as reader:        # each stop: that hart's pc, at that icount
        timeline = Timeline(ReplaySession(reader, lambda data: None))
        for seen in (at, boot, stepped, back, ahead, boot_stepped, caller):
            timeline.seek(seen["icount"])
            hart = 0 if seen is boot or seen is boot_stepped else thread - 1
            assert timeline.board.harts[hart].cpu.pc == int(seen["pc"], 16), seen
        # ... after executing exactly one instruction of its own since the last stop.
        timeline.seek(ahead["icount"])
        retired = timeline.board.harts[0].retired
        timeline.seek(boot_stepped["icount"])
        assert timeline.board.harts[0].retired == retired + 1


def test_gdb_names_the_same_thread_for_the_first_secondary_breakpoint(smp_trace):
    """gdb-multiarch through the gdb stub stops in secondary_main on the same thread."""
    if shutil.which("gdb-multiarch") is None:
        pytest.skip("needs gdb-multiarch as the oracle")
    result = scenario("harts", smp_trace, function="secondary_main",
                      source=str(GUESTS / "smp" / "smp.c"))
    with DebugServer(smp_trace) as server:
        out = run_gdb(GUESTS / "bin" / "smp.elf", server.port,
                      ["break secondary_main", "continue", "kill"]).stdout
    assert f"Thread {result['hit']['threadId']} hit Breakpoint 1" in out, out


def test_a_live_guest_with_smp_has_a_thread_per_hart():
    """`rrvm dap --smp 2` runs an image live with two harts: two threads."""
    server = Port("--smp", "2")
    with server as port:
        result = scenario("threads", GUESTS / "bin" / "smp.elf", port)
    assert server.status == 0 and "Traceback" not in server.stderr, server.stderr
    assert result["entry"]["threadId"] == 1
    assert result["threads"] == [{"id": 1, "name": "hart 0"}, {"id": 2, "name": "hart 1"}]
