"""The REPL's model of a trace: a Timeline, the guest's symbols, breakpoints, and the
movements and questions the commands need (step over calls, trap state); questions
every client asks (every write to an address) come from rr.replay.queries.

Nothing here prints; commands.py turns the results into text. Every long
operation goes through the Timeline with the debugger's Cancellation, so
``interrupt()`` (from the SIGINT handler) stops it at its next slice with
``Interrupted``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from rr.errors import RrError
from rr.log.events import Event
from rr.monitor.constants import CAUSE_INTERRUPT, INSN_SRET, PRIV_U, REG_SP
from rr.monitor.mmu import PageFault
from rr.replay.hits import Hit, HitKind, Watchpoint, WatchKind, WatchSpace
from rr.replay import queries
from rr.replay.cancellation import INTERRUPTED, Cancellation
from rr.replay.queries import Write
from rr.replay.timeline import Timeline
from rr.repl.history import History
from rr.repl.expressions import register_reader
from rr.repl.instructions import (Instruction, boundaries, decode, decode_at, find_word,
                                  is_control_transfer)
from rr.repl.symbols import SymbolTable

MAX_FUNCTION_SCAN = 64 * 1024      # rnext sets breakpoints on every instruction of smaller functions
MAX_TRAPS_STEPPED_OVER = 16


class Reason(StrEnum):
    """Why a movement stopped where it did."""

    STEP = "step"                  # it did what was asked
    BREAKPOINT = "breakpoint"
    WATCHPOINT = "watchpoint"
    END = "end"                    # the end of history came first
    START = "start"                # the start of history came first
    TRAP = "trap"                  # next stepped into an exception handler


class PointKind(StrEnum):
    BREAKPOINT = "breakpoint"
    WATCHPOINT = "watchpoint"


@dataclass
class StopPoint:
    """A user breakpoint or watchpoint."""

    number: int
    kind: PointKind
    address: int
    spec: str                  # what the user typed
    length: int = 1
    access: WatchKind = WatchKind.WRITE      # watchpoints: which accesses stop
    hits: int = 0
    space: WatchSpace = WatchSpace.VIRTUAL   # watchpoints: which addresses

    @property
    def watchpoint(self) -> Watchpoint:
        return Watchpoint(self.address, self.length, self.access, self.space)


@dataclass
class Motion:
    """Where a movement ended and why."""

    reason: Reason
    hit: Hit | None = None
    stop: StopPoint | None = None
    values: tuple[bytes | None, bytes | None] | None = None    # a write: before, after


@dataclass(frozen=True)
class TrapState:
    in_handler: bool | None    # None: cannot tell (no sret found in the image)
    entered: int | None        # instruction count of the last trap entry before here
    returned: int | None       # of the last sret, when that came after the entry
    scause: int
    sepc: int
    stval: int


class Debugger:
    def __init__(self, history: History, symbols: SymbolTable) -> None:
        self.history = history
        self.symbols = symbols
        self.session = history.session
        self.timeline = Timeline(self.session, index=history.index, recorder=history.recorder,
                                 warn=history.warn)
        self.timeline.search = history.search     # searches split by the index's segments
        self.cancellation = Cancellation()
        history.attach(self.timeline, self.cancellation)
        self.board = self.session.board
        # `hart N`: whose registers and memory are shown (None: the current hart's).
        self.viewed_hart: int | None = None
        self.stops: dict[int, StopPoint] = {}
        self._next_number = 1
        self._sret_sites: set[int] | None = None

    # --- harts ---------------------------------------------------------------------------
    @property
    def hart(self) -> int:
        """The hart shown: the one chosen with `hart N`, else the current one."""
        return self.viewed_hart if self.viewed_hart is not None else self.board.current

    @property
    def cpu(self):
        return self.board.harts[self.hart].cpu

    @property
    def memory(self):
        return self.board.harts[self.hart].memory

    def view_hart(self, hart: int | None) -> None:
        if hart is not None and not 0 <= hart < len(self.board.harts):
            raise RrError(f"there is no hart {hart} (harts 0 to {len(self.board.harts) - 1})")
        self.viewed_hart = hart

    # --- position and state -----------------------------------------------------------
    @property
    def position(self) -> int:
        return self.timeline.position

    @property
    def length(self) -> int:
        """The last instruction count of history (so far, for a live guest)."""
        return self.history.length(self.timeline)

    @property
    def bounded(self) -> bool:
        """False while a live guest can run on past ``length``."""
        return self.history.bounded(self.timeline)

    def ending(self) -> str:
        return self.history.ending(self.timeline)

    @property
    def pc(self) -> int:
        return self.cpu.pc

    @property
    def sp(self) -> int:
        return self.cpu.x(REG_SP)

    @property
    def events(self) -> Sequence[Event]:
        return queries.recorded_events(self.timeline)

    def register(self, name: str) -> int:
        return register_reader(self.cpu)(name)

    def read(self, address: int, size: int) -> bytes:
        """Guest virtual memory as the hart sees it now; raises PageFault."""
        return self.memory.read(address, size)

    def read_prefix(self, address: int, size: int) -> tuple[bytes, PageFault | None]:
        """As much of the range as is readable, and the fault that ended it (or None)."""
        return self.memory.read_prefix(address, size)

    def try_read(self, address: int, size: int) -> bytes | None:
        return self.memory.try_read(address, size)

    def instruction(self, address: int | None = None) -> Instruction:
        return decode_at(self.read, self.pc if address is None else address)

    # --- interruption -------------------------------------------------------------------
    def begin(self) -> None:
        """A new command starts: forget an earlier Ctrl-C."""
        self.cancellation.reset()

    def interrupt(self) -> None:
        """From the SIGINT handler: stop the running operation soon."""
        self.cancellation.cancel()

    @property
    def interrupted(self) -> bool:
        """The user pressed Ctrl-C during this command (not: a live guest starved of input)."""
        return self.cancellation.why == INTERRUPTED

    def check(self) -> None:
        self.cancellation.check(self.position)

    # --- breakpoints and watchpoints ----------------------------------------------------
    def add_breakpoint(self, address: int, spec: str) -> StopPoint:
        return self._add(StopPoint(self._next_number, PointKind.BREAKPOINT, address, spec))

    def add_watchpoint(self, address: int, length: int, access: WatchKind,
                       spec: str, space: WatchSpace = WatchSpace.VIRTUAL) -> StopPoint:
        stop = StopPoint(self._next_number, PointKind.WATCHPOINT, address, spec,
                         length, access, space=space)
        stop.watchpoint                     # a range no watch may cover fails here, not later
        return self._add(stop)

    def _add(self, stop: StopPoint) -> StopPoint:
        self.stops[stop.number] = stop
        self._next_number += 1
        return stop

    def delete(self, number: int | None = None) -> list[StopPoint]:
        if number is None:
            gone = list(self.stops.values())
            self.stops.clear()
            return gone
        return [self.stops.pop(number)]

    def _user_points(self) -> tuple[set[int], list[Watchpoint]]:
        stops = self.stops.values()
        breakpoints = {s.address for s in stops if s.kind is PointKind.BREAKPOINT}
        watchpoints = sorted({s.watchpoint for s in stops if s.kind is PointKind.WATCHPOINT})
        return breakpoints, watchpoints

    def _user_stop(self, hit: Hit) -> StopPoint | None:
        for stop in self.stops.values():
            if hit.kind is HitKind.BREAKPOINT and stop.kind is PointKind.BREAKPOINT \
                    and stop.address == hit.address:
                return stop
            if hit.watch is not None and stop.kind is PointKind.WATCHPOINT \
                    and stop.watchpoint == hit.watch:
                return stop
        return None

    def _report(self, hit: Hit, stop: StopPoint) -> Motion:
        stop.hits += 1
        if stop.kind is PointKind.BREAKPOINT:
            return Motion(Reason.BREAKPOINT, hit, stop)
        values = None
        if hit.kind is HitKind.WRITE:        # the watched range before and after the store
            write = queries.write_of(hit)
            values = write.old, write.new
        return Motion(Reason.WATCHPOINT, hit, stop, values)

    # --- movement -----------------------------------------------------------------------
    def goto(self, icount: int) -> Motion:
        self.timeline.seek(icount, self.cancellation)
        return Motion(Reason.END if self.timeline.at_end else Reason.STEP)

    def step(self, count: int = 1) -> Motion:
        before = self.position
        self.timeline.step(count, self.cancellation)
        if self.position == before and count:
            return Motion(Reason.END)
        return Motion(Reason.END if self.timeline.at_end else Reason.STEP)

    def reverse_step(self, count: int = 1) -> Motion:
        before = self.position
        self.timeline.reverse_step(count, self.cancellation)
        return Motion(Reason.START if self.position == before and count else Reason.STEP)

    def cont(self) -> Motion:
        return self._search(self.timeline.run_forward, Reason.END)

    def reverse_cont(self) -> Motion:
        return self._search(self.timeline.run_backward, Reason.START)

    def _search(self, run, edge: Reason) -> Motion:
        """Continue in one direction to the next user breakpoint or watchpoint, or ``edge``."""
        hit = run(*self._user_points(), cancel=self.cancellation)
        if hit is None:
            return Motion(edge)
        stop = self._user_stop(hit)
        return self._report(hit, stop) if stop is not None else Motion(Reason.STEP, hit)

    def next(self) -> Motion:
        """One instruction in this frame: calls run to their return, interrupts are stepped over."""
        pc0, sp0 = self.pc, self.sp
        try:
            insn = self.instruction(pc0)
        except PageFault:
            return self.step(1)
        if insn.is_call:
            return self._run_to(pc0 + insn.size, sp0)
        for _ in range(MAX_TRAPS_STEPPED_OVER):
            motion = self.step(1)
            if motion.reason is not Reason.STEP or not self._trapped(insn):
                return motion
            scause, sepc = self.cpu.csr("scause"), self.cpu.csr("sepc")
            if not scause & CAUSE_INTERRUPT:
                return Motion(Reason.TRAP)          # an exception: stop in its handler
            motion = self._run_to(sepc, sp0)   # through the handler, back to this frame
            if motion.reason is not Reason.STEP or sepc != pc0:
                return motion
            # The interrupt came before the instruction executed: now execute it.
        return Motion(Reason.STEP)

    def finish(self) -> Motion:
        """Out of the function holding pc: forward to one of its return instructions with
        the stack no deeper than here (not a recursive call's), then over it; a user stop
        on the way stops there."""
        returns = self.return_sites()
        if self.pc not in returns:
            breakpoints, watchpoints = self._user_points()
            sp0, cpu = self.sp, self.cpu

            def accept(hit: Hit) -> bool:
                return (hit.kind != HitKind.BREAKPOINT or hit.address in breakpoints
                        or cpu.x(2) >= sp0)
            hit = self.timeline.run_forward(breakpoints | returns, watchpoints, condition=accept)
            if hit is None:
                return Motion(Reason.END)
            stop = self._user_stop(hit)
            if stop is not None and not (hit.kind == HitKind.BREAKPOINT and hit.address in returns):
                return self._report(hit, stop)
        return self.step(1)

    def return_sites(self) -> set[int]:
        """The addresses of the return instructions of the function holding pc (what
        `finish` runs to); an error when no sized function symbol holds it."""
        function = self.symbols.function_at(self.pc)
        raw = self.try_read(function.address, function.size) \
            if function is not None and function.size else None
        if raw is None:
            raise RrError(f"finish: no function symbol with a size holds pc {self.pc:#x}")
        returns = {insn.address for insn in (decode(raw[at - function.address:], at)
                                             for at in boundaries(raw, function.address))
                   if insn.is_return}
        if not returns:
            raise RrError(f"finish: {function.name} has no return instruction")
        return returns

    def _trapped(self, insn: Instruction) -> bool:
        """Did the instruction just stepped from ``insn`` end in a trap instead of executing?"""
        pc = self.pc
        if not is_control_transfer(insn.bits, insn.size):
            return pc != insn.address + insn.size
        target = insn.target
        if target is not None:
            return pc not in (target, insn.address + insn.size)
        return False                          # jalr, ecall, sret: anything is possible

    def _run_to(self, address: int, sp: int) -> Motion:
        """Forward to ``address`` with this sp (a return address), or a user stop."""
        return self._search_frame(self.timeline.run_forward, {address}, sp, Reason.END)

    def _search_frame(self, run, targets: set[int], sp: int, edge: Reason) -> Motion:
        """Run (one direction) to one of ``targets`` at stack pointer ``sp``, unless a user stop
        or ``edge`` of history comes first."""
        breakpoints, watchpoints = self._user_points()
        accept = self._in_frame(targets, breakpoints, sp)
        while True:
            hit = run(breakpoints | targets, watchpoints, condition=accept,
                      cancel=self.cancellation)
            if hit is None:
                return Motion(edge)
            arrived = hit.kind is HitKind.BREAKPOINT and hit.address in targets and self.sp == sp
            stop = self._user_stop(hit)
            if stop is not None and not arrived:
                return self._report(hit, stop)
            if arrived:
                return Motion(Reason.STEP)
            self.check()

    def _in_frame(self, targets: set[int], user_breakpoints: set[int], sp: int):
        """A hit condition: user stops always count, ``targets`` only with this sp."""
        cpu = self.cpu

        def accept(hit: Hit) -> bool:
            if hit.kind is not HitKind.BREAKPOINT or hit.address in user_breakpoints:
                return True
            return hit.address not in targets or cpu.x(REG_SP) == sp
        return accept

    def reverse_next(self) -> Motion:
        """Back to the previous instruction of this frame, over calls and traps."""
        pc0, sp0 = self.pc, self.sp
        function = self.symbols.function_at(pc0)
        if function is not None and not function.size:
            function = None
        motion = self.reverse_step(1)
        if motion.reason is not Reason.STEP or self._same_frame(pc0, sp0, function):
            return motion
        targets = self._frame_instructions(function, pc0)
        if not targets:
            return motion
        return self._search_frame(self.timeline.run_backward, targets, sp0, Reason.START)

    def _same_frame(self, pc0: int, sp0: int, function) -> bool:
        """After one step back from pc0: still in pc0's frame (or back out at its call)?"""
        pc = self.pc
        try:
            insn = self.instruction(pc)
        except PageFault:
            return True
        if insn.is_call:
            return True                       # at a callee's entry, back at the call
        if pc + insn.size == pc0 and not is_control_transfer(insn.bits, insn.size):
            return True                       # straight-line predecessor (prologue included)
        if function is not None:
            return function.contains(pc) and self.sp == sp0
        return self.sp == sp0 and insn.target == pc0

    def _frame_instructions(self, function, pc0: int) -> set[int]:
        """Breakpoints that find the previous instruction of pc0's frame."""
        if function is not None and function.size <= MAX_FUNCTION_SCAN:
            raw = self.try_read(function.address, function.size)
            if raw is not None:
                return set(boundaries(raw, function.address))
        sites = set()
        for back in (4, 2):                    # the call just before a return address
            try:
                if self.instruction(pc0 - back).is_call and self.instruction(pc0 - back).size == back:
                    sites.add(pc0 - back)
            except PageFault:
                pass
        return sites

    # --- questions about history --------------------------------------------------------
    def writes(self, address: int, length: int,
               space: WatchSpace = WatchSpace.VIRTUAL) -> list[Write]:
        """Every instruction that wrote the range over the whole trace; the position is kept."""
        return queries.writes(self.timeline, address, length, self.cancellation, space)

    def last_write(self, address: int, length: int,
                   space: WatchSpace = WatchSpace.VIRTUAL) -> Write | None:
        return queries.last_write(self.timeline, address, length, self.cancellation, space)

    def trap_entries(self) -> set[int]:
        stvec = self.cpu.csr("stvec")
        base = stvec & ~3
        if stvec & 3 == 1:                    # vectored: interrupts enter at base + 4 * cause
            return {base + 4 * cause for cause in range(16)}
        return {base}

    def sret_sites(self) -> set[int]:
        """Addresses of sret instructions in the guest's code (its ELF, else the loaded image)."""
        if self._sret_sites is None:
            sites = set()
            for code in self.symbols.code:
                sites.update(code.address + at for at in find_word(code.data, INSN_SRET))
            image = self.board.payload.image
            for segment in image.segments:
                sites.update(segment.paddr + at for at in find_word(segment.data, INSN_SRET))
            self._sret_sites = sites
        return self._sret_sites

    def trap_state(self) -> TrapState:
        """Is the hart inside a trap handler? The last entry to stvec against the last sret."""
        cpu = self.cpu
        csrs = cpu.csr("scause"), cpu.csr("sepc"), cpu.csr("stval")
        entries = self.trap_entries()
        if self.pc in entries:
            return TrapState(True, self.position, None, *csrs)
        if cpu.priv == PRIV_U:
            return TrapState(False, None, None, *csrs)
        srets = self.sret_sites()
        hit = self.timeline.last_hit(entries | srets, cancel=self.cancellation)
        if hit is None:
            return TrapState(False, None, None, *csrs)
        if hit.address in entries:
            return TrapState(True if srets else None, hit.icount, None, *csrs)
        entry = self.timeline.last_hit(entries, cancel=self.cancellation)
        return TrapState(False, entry.icount if entry else None, hit.icount, *csrs)

    def restore(self, position: int) -> None:
        """Go back to ``position`` after an interrupted query (a second Ctrl-C stops that too)."""
        self.cancellation.reset()
        try:
            self.timeline.seek(position, self.cancellation)
        finally:
            self.cancellation.cancel()        # the command line was still interrupted

