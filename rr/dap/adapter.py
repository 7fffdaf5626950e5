"""What each Debug Adapter Protocol request means for recorded history.

The adapter drives the REPL's Debugger (a Timeline with the guest's
symbols, breakpoints and watchpoints, stepping over calls both ways), reads
registers and memory through a ReplayTarget (the gdb stub's view: RAM only,
never a device), maps pcs to source lines with SourceLines, and runs REPL
commands for `evaluate`. Bytes and JSON are framing.py's; the session loop
(threads, pause) is server.py's.

Each hart is a DAP thread, hart h being thread h + 1 as in the gdb stub. A
request for a thread shows its hart (the REPL's `hart N`) until the next
stop; a step of a thread is the gdb stub's step of that hart.

A request that moves the machine (continue, the steps, their reverse) is
answered at once and reports where it stopped in a ``stopped`` event, sent
by ``run_pending`` after the response. Stops and what they mean:

- breakpoint / function breakpoint: before the instruction at the address;
- data breakpoint: at the instruction that makes the access, before it
  executes, in either direction (the REPL's convention: the old value is
  still in memory, `step` shows the new one);
- pause: where a run got to when the client paused it;
- end of history / start of history: a run found nothing before the end of
  the recording (or of a live guest that ended) or its beginning. The end also
  sends ``exited`` with the guest's exit status; with ``terminateAtEnd`` in the
  launch arguments it ends the session (``terminated``) instead of staying for
  reverse execution.
"""

from __future__ import annotations

import argparse
import base64
import io
from pathlib import Path
from dataclasses import dataclass
from typing import Callable

from rr.errors import RrError
from rr.gdbstub.registers import (FEATURE_CPU, FEATURE_CSR, FEATURE_FPU, FEATURE_VIRTUAL,
                                  Register)
from rr.gdbstub.replay_target import ReplayTarget
from rr.gdbstub.gdb.trap_frames import TrapFrames
from rr.gdbstub.stop_points import StopPoints
from rr.gdbstub.target import Direction, MemoryFault, Resume, StopKind
from rr.dap.call_stack import NO_TRAP_FRAMES, CallFrameInfo, Frame
from rr.dap.inline_scopes import InlineScopes
from rr.dap.dwarf_types import TypedValue
from rr.dap.locals import Local, LocalVariables, Machine
from rr.dap.messages import CAPABILITIES, Outbox, Request, RequestError
from rr.dap.source_lines import SourceLines
from rr.replay.cancellation import Interrupted
from rr.replay.hits import HitKind
from rr.repl.commands import Quit, Repl
from rr.repl.debugger import Debugger, Motion, Reason
from rr.repl.expressions import ExpressionError
from rr.repl.formatting import Printer
from rr.repl.history import History
from rr.repl.instructions import decode_at, listing
from rr.repl.symbols import SymbolTable

THREAD_ID = 1                    # hart h is thread h + 1, as in the gdb stub
MAX_LINE_STEPS = 20_000          # a line step gives up (stops) after this many instructions
MAX_READ_MEMORY = 1 << 20
MAX_FUNCTION_DECODE = 64 << 10  # disassembling backwards decodes at most this much of a function
ACCESS_OF_TYPE = {"write": "write", "read": "read", "readWrite": "access"}
GOTO_ICOUNT = "gotoIcount"       # the custom time-travel request: {"icount": N}
# How one hart's step (the gdb stub's) ended, as a movement of the Debugger.
_MOTION_OF_STOP = {StopKind.HISTORY_END: Reason.END, StopKind.HISTORY_BEGIN: Reason.START}

LOCALS_REFERENCE = 4
FRAME_LOCALS_REFERENCE = 1000   # + N: the locals of frame N (N > 0) of the last stackTrace
FIRST_MEMBERS_REFERENCE = 1 << 20    # members of locals: references from here, until the next stop
# Scopes: variablesReference -> (name, the registers it shows).
_SCOPES = {
    1: ("Registers", (FEATURE_CPU,)),
    2: ("CSRs", (FEATURE_CSR, FEATURE_VIRTUAL)),
    3: ("Floating point", (FEATURE_FPU,)),
}


@dataclass
class Launch:
    """What launch/attach asked for."""

    program: str
    stop_on_entry: bool
    source_root: str
    terminate_at_end: bool


class DapAdapter:
    """One debugging session: ``send`` delivers a message to the client."""

    def __init__(self, args: argparse.Namespace, send: Callable[[dict], None],
                 open_history: Callable[[argparse.Namespace, Callable[[bytes], None]],
                                        tuple[History, object, str]]) -> None:
        self.args = args
        self.send = send
        self.outbox = Outbox()
        self.open_history = open_history
        self.debugger: Debugger | None = None
        self.target: ReplayTarget | None = None
        self.repl: Repl | None = None
        self.repl_output = io.StringIO()
        self.lines = SourceLines(None, ".")
        self.call_frames = CallFrameInfo([])
        self.trap_frames = NO_TRAP_FRAMES
        self.inline_scopes = InlineScopes(None)
        self.local_variables = LocalVariables(b"")
        self.launch: Launch | None = None
        self.pending: Callable[[], None] | None = None
        self.finished = False
        self.running = False
        self._paused = False             # a pause request interrupted the running movement
        self._pause_answered = False     # ... and the stop event it caused was sent
        self._source_stops: dict[str, list[int]] = {}
        self._function_stops: set[int] = set()
        self._data_stops: list[int] = []
        self._data_names: dict[str, str] = {}    # dataId -> what dataBreakpointInfo was asked
        self._exit_reported = False
        self._expansions: dict[int, TypedValue] = {}     # reference -> what it expands
        # The machine frame of each entry of the last stack, and its depth of inlining.
        self._frames: list[tuple[Frame, int]] = []
        self._stepped_hart: int | None = None   # the hart the running step moves

    # --- dispatch --------------------------------------------------------------------
    def handle(self, request: Request) -> dict:
        """The response to ``request`` (an error response for a bad one); a movement it
        asked for is left in ``pending``."""
        handler = self._goto_icount if request.command == GOTO_ICOUNT else \
            getattr(self, "_on_" + request.command, None)
        if handler is None:
            return self.outbox.error(request.seq, request.command,
                                     f"unknown request {request.command!r}")
        try:
            body = handler(request)
        except (RrError, ExpressionError) as error:      # RequestError, MemoryFault, ...
            return self.outbox.error(request.seq, request.command, f"{request.command}: {error}")
        return self.outbox.response(request.seq, request.command, body)

    def run_pending(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending()

    def interrupt(self) -> None:
        """From the reader thread: a pause request arrived while a movement runs."""
        if self.running and self.debugger is not None:
            self._paused = True
            self.debugger.interrupt()

    def event(self, name: str, body: dict | None = None) -> None:
        self.send(self.outbox.event(name, body))

    # --- session -----------------------------------------------------------------------
    def _on_initialize(self, request: Request) -> dict:
        return dict(CAPABILITIES)

    def _on_launch(self, request: Request) -> None:
        if self.debugger is not None:
            raise RequestError("a trace or guest is already open")
        program = request.str("program", None) or request.str("trace", None) or self.args.image
        if not program:
            raise RequestError("no trace or image: give 'program' in the launch arguments "
                               "or a path to rrvm dap")
        self.launch = Launch(program, request.bool("stopOnEntry", False),
                             request.str("sourceRoot", None) or self.args.source_root or ".",
                             request.bool("terminateAtEnd", False))
        args = argparse.Namespace(**vars(self.args))
        args.image = program
        args.symbols = request.str("symbols", None) or self.args.symbols
        history, symbols, origin = self.open_history(args, self._guest_output)
        debugger = Debugger(history, symbols)
        self.debugger = debugger
        self.target = ReplayTarget(debugger.timeline, lambda: [])
        self.repl = Repl(debugger, Printer(colour=False, stream=self.repl_output))
        image = Path(args.symbols).read_bytes() if args.symbols else self._image_bytes(history)
        self.lines = SourceLines.from_elf(image, self.launch.source_root)
        self.call_frames = CallFrameInfo.from_elf(image)
        self.trap_frames = TrapFrames(lambda name: _address_of(symbols, name))
        self.inline_scopes = InlineScopes.from_elf(image)
        self.local_variables = LocalVariables(image)
        lines = "source lines from DWARF" if self.lines else "no source lines"
        self.event("output", {"category": "console",
                              "output": f"rrvm dap: {history.name}, {origin}, {lines}\n"})
        self.pending = lambda: self.event("initialized")
        return None

    _on_attach = _on_launch

    @staticmethod
    def _image_bytes(history: History) -> bytes:
        reader = getattr(history, "reader", None)
        if reader is not None:
            return reader.image_bytes() or b""
        return history.session.payload.image.raw or b""

    def _guest_output(self, data: bytes) -> None:
        self.event("output", {"category": "stdout",
                              "output": data.decode("utf-8", "replace")})

    def _on_configurationDone(self, request: Request) -> None:
        debugger = self._debugger()
        if self.launch.stop_on_entry:
            self.pending = lambda: self._stopped("entry")
        else:
            self.pending = lambda: self._move(debugger.cont)

    def _on_disconnect(self, request: Request) -> None:
        self.finished = True
        self.close()

    def _on_terminate(self, request: Request) -> None:
        self.pending = lambda: self.event("terminated")

    def close(self) -> None:
        if self.debugger is not None:
            self.debugger.history.close(self.debugger.timeline)
            self.debugger = None

    def _debugger(self) -> Debugger:
        if self.debugger is None:
            raise RequestError("no trace or guest is open yet (launch first)")
        return self.debugger

    # --- threads, frames, variables -------------------------------------------------------
    def _on_threads(self, request: Request) -> dict:
        harts = len(self.debugger.board.harts) if self.debugger is not None else 1
        return {"threads": [{"id": hart + THREAD_ID, "name": f"hart {hart}"}
                            for hart in range(harts)]}

    def _harts(self) -> int:
        return len(self._debugger().board.harts)

    def _thread_hart(self, request: Request) -> int:
        """The hart the request's threadId names (none: the hart that runs now)."""
        harts = self._harts()
        thread = request.int("threadId", self.debugger.board.current + THREAD_ID)
        if not THREAD_ID <= thread < THREAD_ID + harts:
            raise RequestError(f"there is no thread {thread} (threads {THREAD_ID} to "
                               f"{harts - 1 + THREAD_ID}, one per hart)")
        return thread - THREAD_ID

    def _view(self, hart: int) -> None:
        """Show ``hart``'s registers and memory (the REPL's `hart N`, the gdb stub's Hg)
        until the next stop, without moving."""
        shown = None if hart == self.debugger.board.current else hart
        if shown != self.debugger.viewed_hart:
            self._frames = []
            self._expansions.clear()
        self.debugger.view_hart(shown)
        self.target.view_hart(shown)

    def _on_stackTrace(self, request: Request) -> dict:
        debugger = self._debugger()
        self._view(self._thread_hart(request))
        cpu = debugger.cpu
        registers = {number: cpu.x(number) for number in range(1, 32)}
        frames = self.call_frames.unwind(cpu.pc, registers, self._read_exactly,
                                         cpu.csr("sepc"), self.trap_frames)
        first = request.int("startFrame", 0)
        shown = [(entry, frame, inlined) for frame in frames
                 for entry, inlined in self._source_frames(frame)]
        levels = request.int("levels", 0) or len(shown)
        for index, (entry, _, _) in enumerate(shown):
            entry["id"] = index
        self._frames = [(frame, inlined) for _, frame, inlined in shown]
        return {"stackFrames": [entry for entry, _, _ in shown[first:first + levels]],
                "totalFrames": len(shown)}

    def _source_frames(self, frame: Frame) -> list[tuple[dict, int]]:
        """The frames the source shows for one machine frame: one per inlined call, the
        innermost at the pc's line, each outer one at the line that called the inner one
        (in the file its own code is in), then the function itself; each with its depth
        of inlining (the function 0, a call inlined into it 1, ...)."""
        pc = frame.pc
        code = frame.code                          # a return address: the call's line
        row = self.lines.at(code)
        found = self.debugger.symbols.locate(code)
        if found is None:
            name = f"{pc:#x}"
        else:
            name = found[0].name + (f"+{pc - found[0].address:#x}" if pc != found[0].address
                                    else "")
        place = (row.path, row.line) if row is not None else None
        calls = self.inline_scopes.at(code)        # outermost first
        shown = []
        for level in range(len(calls) - 1, -1, -1):
            call = calls[level]
            shown.append((_frame_entry(call.name, pc, place), level + 1))
            caller = calls[level - 1].start if level else \
                found[0].address if found is not None else None
            caller_row = self.lines.at(caller) if caller is not None else None
            path = caller_row.path if caller_row is not None else place[0] if place else ""
            place = (path, call.call_line)
        shown.append((_frame_entry(name, pc, place), 0))
        return shown

    def _on_scopes(self, request: Request) -> dict:
        self._debugger()
        frame_id = request.int("frameId", 0)
        scopes = [{"name": name, "variablesReference": ref, "expensive": False,
                   "presentationHint": "registers"} for ref, (name, _) in _SCOPES.items()]
        if frame_id == 0 or 0 < frame_id < len(self._frames):
            reference = LOCALS_REFERENCE if frame_id == 0 else FRAME_LOCALS_REFERENCE + frame_id
            scopes.insert(0, {"name": "Locals", "variablesReference": reference,
                              "expensive": False, "presentationHint": "locals"})
        return {"scopes": scopes}

    def _locals(self, frame_id: int) -> list[dict]:
        """The locals of a frame the last stackTrace listed (0: the hart's pc, always),
        from the registers unwinding found for it."""
        if frame_id == 0:
            cpu = self.debugger.cpu
            frame = Frame(cpu.pc, cpu.x(2), caller=False,
                          registers={number: cpu.x(number) for number in range(32)})
            inlined = None
        else:
            frame, inlined = self._frames[frame_id]
        registers = frame.registers
        machine = Machine(registers.get, self.call_frames.cfa(frame.code, registers),
                          self._read_exactly)
        return [self._local_variable(local)
                for local in self.local_variables.at(frame.code, machine, inlined)]

    def _local_variable(self, local: Local) -> dict:
        """A local (or a member of one); one with members gets a reference to expand it,
        valid until the machine next moves."""
        reference = 0
        if local.typed is not None:
            reference = FIRST_MEMBERS_REFERENCE + len(self._expansions)
            self._expansions[reference] = local.typed
        variable = {"name": local.name, "value": local.value, "type": local.type,
                    "variablesReference": reference}
        if local.typed is not None and local.typed.address is not None:
            variable["memoryReference"] = f"{local.typed.address:#x}"
        return variable

    def _read_exactly(self, address: int, length: int) -> bytes | None:
        try:
            data = self.target.read_memory(address, length)
        except MemoryFault:
            return None
        return data if len(data) == length else None

    def _on_variables(self, request: Request) -> dict:
        debugger = self._debugger()
        ref = request.int("variablesReference")
        if ref == LOCALS_REFERENCE:
            return {"variables": self._locals(0)}
        if 0 < ref - FRAME_LOCALS_REFERENCE < len(self._frames):
            return {"variables": self._locals(ref - FRAME_LOCALS_REFERENCE)}
        if ref in self._expansions:
            return {"variables": [self._local_variable(member) for member in
                                  self.local_variables.members(self._expansions[ref],
                                                               self._read_exactly)]}
        if ref not in _SCOPES:
            raise RequestError(f"no variables under reference {ref}")
        _, features = _SCOPES[ref]
        variables = []
        if ref == 1:
            variables.append({"name": "icount", "value": str(debugger.position),
                              "variablesReference": 0})
        for register in self.target.registers().registers:
            if register.feature in features:
                variables.append(self._register_variable(register))
        return {"variables": variables}

    def _register_variable(self, register: Register) -> dict:
        value = self.target.read_register(register)
        shown = "<unavailable>" if value is None else f"{value:#0{2 + register.size * 2}x}"
        variable = {"name": register.name, "value": shown, "variablesReference": 0}
        if value is not None and register.feature == FEATURE_CPU:
            variable["memoryReference"] = f"{value:#x}"
        return variable

    # --- breakpoints -----------------------------------------------------------------------
    def _on_setBreakpoints(self, request: Request) -> dict:
        debugger = self._debugger()
        source = request.object("source")
        path = source.get("path")
        if not isinstance(path, str) or not path:
            raise RequestError("the source has no 'path'")
        for number in self._source_stops.pop(path, []):
            debugger.delete(number)
        wanted = request.objects("breakpoints") or [{"line": line}
                                                    for line in request.list("lines", [])]
        known = self.lines.resolve(path)
        result, numbers = [], []
        for index, wish in enumerate(wanted):
            line = wish.get("line")
            if not isinstance(line, int) or isinstance(line, bool):
                raise RequestError(f"breakpoints[{index}] has no integer 'line'")
            place = self.lines.address_of(known, line) if known is not None else None
            if place is None:
                why = (f"no code at or after line {line}" if known is not None
                       else f"no line table names {path}")
                result.append({"verified": False, "line": line, "message": why})
                continue
            address, at_line = place
            stop = debugger.add_breakpoint(address, f"{path}:{line}")
            numbers.append(stop.number)
            result.append({"id": stop.number, "verified": True, "line": at_line,
                           "source": _source(known),
                           "instructionReference": f"{address:#x}"})
        self._source_stops[path] = numbers
        return {"breakpoints": result}

    def _on_setFunctionBreakpoints(self, request: Request) -> dict:
        debugger = self._debugger()
        for number in self._function_stops:
            debugger.delete(number)
        self._function_stops = set()
        result = []
        for index, wish in enumerate(request.objects("breakpoints")):
            name = wish.get("name")
            if not isinstance(name, str) or not name:
                raise RequestError(f"breakpoints[{index}] has no 'name'")
            symbol = debugger.symbols.get(name)
            if symbol is None or symbol.kind == "object":
                result.append({"verified": False, "message": f"no function named {name!r}"})
                continue
            stop = debugger.add_breakpoint(symbol.address, name)
            self._function_stops.add(stop.number)
            entry = {"id": stop.number, "verified": True,
                     "instructionReference": f"{symbol.address:#x}"}
            row = self.lines.at(symbol.address)
            if row is not None:
                entry.update(source=_source(row.path), line=row.line)
            result.append(entry)
        return {"breakpoints": result}

    def _on_setExceptionBreakpoints(self, request: Request) -> dict:
        """No exception filters are offered (traps are the guest's own business; a
        breakpoint on its trap vector stops at them), so any filter asked for is unknown."""
        filters = request.list("filters", [])
        if filters:
            raise RequestError(f"no exception filters are offered, not {filters[0]!r}")
        return {"breakpoints": []}

    def _on_dataBreakpointInfo(self, request: Request) -> dict:
        debugger = self._debugger()
        name = request.str("name")
        if request.int("variablesReference", 0):
            return {"dataId": None, "description": "registers cannot be watched, only memory"}
        address = self.repl.evaluator.address(name)
        symbol = debugger.symbols.get(name.strip())
        size = symbol.size if symbol is not None and symbol.kind == "object" and symbol.size \
            else 8
        data_id = f"{address:#x}/{size}"
        self._data_names[data_id] = name.strip()
        return {"dataId": data_id,
                "description": f"{name} ({size} bytes at {address:#x})",
                "accessTypes": list(ACCESS_OF_TYPE), "canPersist": False}

    def _on_setDataBreakpoints(self, request: Request) -> dict:
        debugger = self._debugger()
        for number in self._data_stops:
            debugger.delete(number)
        self._data_stops = []
        result = []
        for index, wish in enumerate(request.objects("breakpoints")):
            data_id = wish.get("dataId")
            access = wish.get("accessType", "write")
            where, _, size = str(data_id).partition("/")
            try:
                address, length = int(where, 16), int(size)
            except ValueError:
                raise RequestError(f"breakpoints[{index}]: bad dataId {data_id!r} "
                                   f"(dataBreakpointInfo gives one)") from None
            if access not in ACCESS_OF_TYPE:
                raise RequestError(f"breakpoints[{index}]: accessType {access!r} is not one "
                                   f"of {', '.join(ACCESS_OF_TYPE)}")
            stop = debugger.add_watchpoint(address, length, ACCESS_OF_TYPE[access],
                                           self._data_names.get(data_id, data_id))
            self._data_stops.append(stop.number)
            result.append({"id": stop.number, "verified": True})
        return {"breakpoints": result}

    # --- movement --------------------------------------------------------------------------
    def _on_continue(self, request: Request) -> dict:
        debugger = self._debugger()
        self._stepped_hart = None
        self.pending = lambda: self._move(debugger.cont)
        return {"allThreadsContinued": True}

    def _on_reverseContinue(self, request: Request) -> None:
        debugger = self._debugger()
        self._stepped_hart = None
        self.pending = lambda: self._move(debugger.reverse_cont, backward=True)

    def _on_next(self, request: Request) -> None:
        debugger = self._debugger()
        hart = self._stepping(request)
        self._step(request, debugger.next if hart is None else
                   lambda: self._hart_next(hart))

    def _on_stepIn(self, request: Request) -> None:
        debugger = self._debugger()
        hart = self._stepping(request)
        self._step(request, debugger.step if hart is None else
                   lambda: self._hart_step(hart, Direction.FORWARD))

    def _on_stepBack(self, request: Request) -> None:
        debugger = self._debugger()
        hart = self._stepping(request)
        self._step(request, debugger.reverse_next if hart is None else
                   lambda: self._hart_step(hart, Direction.BACKWARD), backward=True)

    def _on_stepOut(self, request: Request) -> None:
        debugger = self._debugger()
        hart = self._stepping(request)
        self.pending = lambda: self._move(debugger.finish if hart is None else
                                          lambda: self._hart_out(hart))

    def _stepping(self, request: Request) -> int | None:
        """The hart a step of the request's thread steps, when there are several (with
        one, the Debugger's own steps); its registers are the ones shown while it steps."""
        hart = self._thread_hart(request)
        self._stepped_hart = hart if self._harts() > 1 else None
        self._view(hart)
        return self._stepped_hart

    def _hart_step(self, hart: int, direction: Direction) -> Motion:
        """One instruction of ``hart``, forward or back: the gdb stub's step of a thread
        (ReplayTarget.resume), the other harts running as they did meanwhile."""
        stop = self.target.resume(Resume(direction, True, hart), StopPoints(),
                                  lambda: self.debugger.interrupted)
        self._view(hart)                       # the position moved: the hart may not run now
        return Motion(_MOTION_OF_STOP.get(stop.kind, Reason.STEP))

    def _hart_next(self, hart: int) -> Motion:
        """One instruction of ``hart`` in this frame: a call runs (one of its instructions
        at a time) until the hart is back after it with the same stack."""
        debugger = self.debugger
        pc0, sp0 = debugger.pc, debugger.sp
        try:
            insn = debugger.instruction(pc0)
        except RrError:
            insn = None
        motion = self._hart_step(hart, Direction.FORWARD)
        if insn is None or not insn.is_call:
            return motion
        for _ in range(MAX_LINE_STEPS):
            if motion.reason != Reason.STEP or (debugger.pc == pc0 + insn.size
                                                and debugger.sp >= sp0):
                return motion
            debugger.check()
            motion = self._hart_step(hart, Direction.FORWARD)
        return motion

    def _hart_out(self, hart: int) -> Motion:
        """``hart`` out of the function holding its pc, as the Debugger's ``finish``: its
        instructions until one of the function's return instructions with the stack no
        deeper than here, then over it."""
        debugger = self.debugger
        returns, sp0 = debugger.return_sites(), debugger.sp
        for _ in range(MAX_LINE_STEPS):
            if debugger.pc in returns and debugger.sp >= sp0:
                break
            motion = self._hart_step(hart, Direction.FORWARD)
            if motion.reason != Reason.STEP:
                return motion
            debugger.check()
        return self._hart_step(hart, Direction.FORWARD)

    def _step(self, request: Request, one: Callable[[], Motion], backward: bool = False) -> None:
        by_line = request.str("granularity", "line") != "instruction" and \
            self.lines.at(self._debugger().pc) is not None
        move = (lambda: self._line_step(one)) if by_line else one
        self.pending = lambda: self._move(move, backward)

    def _line_step(self, one: Callable[[], Motion]) -> Motion:
        """Instructions (``one`` at a time) until the source line changes to another known one."""
        debugger = self.debugger
        start = self._line_here()
        motion = Motion(Reason.STEP)
        for _ in range(MAX_LINE_STEPS):
            motion = one()
            if motion.reason != Reason.STEP:
                return motion
            here = self._line_here()
            if here is not None and here != start:
                return motion
            debugger.check()
        return motion

    def _line_here(self) -> tuple[str, int] | None:
        row = self.lines.at(self.debugger.pc)
        return (row.path, row.line) if row is not None else None

    def _on_pause(self, request: Request) -> None:
        self._debugger()
        if not self._pause_answered:    # it stopped no run: stop "here" all the same
            self.pending = lambda: self._stopped("pause")
        self._pause_answered = False

    def _goto_icount(self, request: Request) -> dict:
        debugger = self._debugger()
        icount = request.int("icount")
        if icount < 0:
            raise RequestError(f"icount {icount} is negative")
        debugger.begin()
        debugger.goto(icount)
        self.pending = lambda: self._stopped("goto")
        return {"icount": debugger.position}

    def _move(self, move: Callable[[], Motion], backward: bool = False) -> None:
        """Run a movement and report where it stopped."""
        debugger = self.debugger
        debugger.begin()
        start = debugger.position
        self._paused = self._pause_answered = False
        self.running = True
        try:
            motion = move()
        except Interrupted as stop:
            self._pause_answered = self._paused     # its stop event is this one
            if backward and stop.searched_back_to is not None:
                debugger.timeline.seek(stop.searched_back_to)
            elif backward:
                debugger.timeline.seek(start)
            self._stopped("pause", f"{stop.why} at instruction {debugger.position}")
            return
        except RrError as error:
            self._stopped("step", str(error))
            self.event("output", {"category": "stderr", "output": f"rrvm: {error}\n"})
            return
        finally:
            self.running = False
        self._report(motion)

    def _report(self, motion: Motion) -> None:
        debugger = self.debugger
        if motion.reason == Reason.BREAKPOINT:
            function = motion.stop.number in self._function_stops
            self._stopped("function breakpoint" if function else "breakpoint",
                          hits=[motion.stop.number])
        elif motion.reason == Reason.WATCHPOINT:
            old, new = motion.values or (None, None)
            text = f"{motion.stop.spec} written" if motion.hit.kind == HitKind.WRITE else \
                f"{motion.stop.spec} accessed"
            if old is not None and new is not None:
                text += f": {old.hex()} -> {new.hex()} (bytes in memory order)"
            self._stopped("data breakpoint", text, hits=[motion.stop.number])
        elif motion.reason == Reason.END:
            ending = debugger.ending()
            self.event("output", {"category": "console", "output": f"rrvm: {ending}\n"})
            if debugger.bounded and not self._exit_reported:
                self._exit_reported = True
                self.event("exited", {"exitCode": self._exit_status()})
            if self.launch.terminate_at_end:
                self.event("terminated")
                return
            self._stopped("end of history", ending)
        elif motion.reason == Reason.START:
            self._stopped("start of history", "at the beginning of recorded history")
        else:
            self._stopped("step")

    def _exit_status(self) -> int:
        ended = self.debugger.timeline.ended
        if ended is not None:
            return ended.status
        reader = getattr(self.debugger.history, "reader", None)
        footer = reader.footer if reader is not None else None
        return footer.exit_status if footer is not None else 0

    def _stopped(self, reason: str, text: str = "", hits: list[int] | None = None) -> None:
        debugger = self.debugger
        self._expansions.clear()           # the values they showed are gone
        self._frames = []
        # The hart a step stepped, else the one that runs here (a breakpoint's, a watched
        # access's: the timeline stops before that hart's instruction).
        hart = self._stepped_hart if self._stepped_hart is not None else debugger.board.current
        self._stepped_hart = None
        self._view(hart)
        body = {"reason": reason, "threadId": hart + THREAD_ID, "allThreadsStopped": True,
                "description": f"{reason} at instruction {debugger.position}"}
        if text:
            body["text"] = text
        if hits:
            body["hitBreakpointIds"] = hits
        self.event("stopped", body)

    # --- memory, code, evaluate ---------------------------------------------------------------
    def _on_readMemory(self, request: Request) -> dict:
        self._debugger()
        address = _reference(request.str("memoryReference")) + request.int("offset", 0)
        count = request.int("count")
        if not 0 <= count <= MAX_READ_MEMORY:
            raise RequestError(f"count {count} is out of range (0 to {MAX_READ_MEMORY})")
        address &= (1 << 64) - 1
        try:
            data = self.target.read_memory(address, count) if count else b""
        except MemoryFault:
            data = b""
        return {"address": f"{address:#x}", "data": base64.b64encode(data).decode(),
                "unreadableBytes": count - len(data)}

    def _on_disassemble(self, request: Request) -> dict:
        debugger = self._debugger()
        start = _reference(request.str("memoryReference")) + request.int("offset", 0)
        skip = request.int("instructionOffset", 0)
        count = request.int("instructionCount")
        if not 0 <= count <= 10_000:
            raise RequestError(f"instructionCount {count} is out of range (0 to 10000)")
        read = debugger.read
        before: list[int] = []
        if skip < 0:
            # Variable-length code cannot be decoded backwards: decode forward from the
            # function's start when near (its boundaries are right), else from 4 bytes an
            # instruction earlier, up to ``start``.
            function = debugger.symbols.function_at(start)
            base = start + 4 * skip
            if function is not None and 0 < start - function.address <= MAX_FUNCTION_DECODE:
                base = function.address
            addresses = [insn.address for insn in listing(read, base, (start - base) // 2)
                         if insn.address < start]
            before = addresses[skip:]
        rows: list[dict] = [{"address": "0x0", "instruction": "", "presentationHint": "invalid"}
                            for _ in range(max(0, -skip - len(before)))]
        for address in before:
            rows.append(self._instruction_row(read, address))
        here = start
        for _ in range(max(0, skip)):
            here += self._instruction_size(read, here)
        while len(rows) < count:
            row = self._instruction_row(read, here)
            rows.append(row)
            here += self._instruction_size(read, here)
        return {"instructions": rows[:count]}

    def _instruction_row(self, read, address: int) -> dict:
        try:
            insn = decode_at(read, address)
        except Exception:              # noqa: BLE001 - unreadable memory: a placeholder row
            return {"address": f"{address:#x}", "instruction": "??",
                    "presentationHint": "invalid"}
        row = {"address": f"{address:#x}", "instructionBytes": insn.raw.hex(),
               "instruction": insn.text}
        label = self.debugger.symbols.describe(address)
        if label:
            row["symbol"] = label
        line = self.lines.at(address)
        if line is not None:
            row.update(location=_source(line.path), line=line.line)
        return row

    @staticmethod
    def _instruction_size(read, address: int) -> int:
        try:
            return decode_at(read, address).size
        except Exception:              # noqa: BLE001 - unreadable: move on by a word
            return 4

    def _on_evaluate(self, request: Request) -> dict:
        debugger = self._debugger()
        expression = request.str("expression")
        if request.str("context", "repl") in ("watch", "hover"):
            value = self.repl.evaluator.address(expression)
            return {"result": f"{value:#x}", "variablesReference": 0,
                    "memoryReference": f"{value:#x}"}
        start = debugger.position
        self.repl_output.seek(0)
        self.repl_output.truncate()
        try:
            ok = self.repl.execute(expression)
        except Quit:
            raise RequestError("quit: end the session from the IDE (disconnect)") from None
        text = self.repl_output.getvalue().rstrip("\n")
        self.target.view_hart(debugger.viewed_hart)     # `hart N` shows that hart here too
        if not ok:
            raise RequestError(text.splitlines()[-1] if text else "the command failed")
        if debugger.position != start:
            self.pending = lambda: self._stopped("goto")
        return {"result": text, "variablesReference": 0}


def _address_of(symbols: SymbolTable, name: str) -> int | None:
    symbol = symbols.get(name)
    return symbol.address if symbol is not None else None


def _frame_entry(name: str, pc: int, place: tuple[str, int] | None) -> dict:
    entry = {"id": 0, "name": name, "line": 0, "column": 0,
             "instructionPointerReference": f"{pc:#x}"}
    if place is not None and place[0]:
        entry.update(source=_source(place[0]), line=place[1], column=1)
    return entry


def _source(path: str) -> dict:
    return {"name": path.rsplit("/", 1)[-1], "path": path}


def _reference(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise RequestError(f"memoryReference {text!r} is not a number") from None
