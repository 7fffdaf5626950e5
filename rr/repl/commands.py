"""The REPL's commands: the table (names, gdb-style aliases, usage, help), parsing and output.

``Repl.execute(line)`` runs one command line. Whatever goes wrong (an unknown
command, a bad argument, unreadable memory, an interrupted search) ends in one
line of explanation, never a traceback; an interrupted query (when, where,
a reverse search) goes back to where it started, an interrupted forward
movement stays where it got to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rr.errors import RrError
from rr.log.events import format_event
from rr.monitor.constants import (GPR_NAMES, PAGE_SHIFT, SATP_ASID_MASK, SATP_ASID_SHIFT,
                                  SATP_MODE_BARE, SATP_MODE_NAMES, SATP_MODE_SHIFT, SATP_PPN_MASK,
                                  SIP_NAMES, SSTATUS_MXR, SSTATUS_SIE, SSTATUS_SPIE, SSTATUS_SPP,
                                  SSTATUS_SUM)
from rr.monitor.mmu import PageFault
from rr.monitor.riscv import cause_name, priv_long_name, priv_name
from rr.replay.hits import WatchKind, WatchSpace
from rr.replay.cancellation import Interrupted
from rr.replay.queries import EVENTS_AROUND, Write, events_around, value_changes
from rr.repl.debugger import Debugger, Motion, PointKind, Reason
from rr.repl.expressions import CSR_NAMES, GPR_NUMBERS, Evaluator, ExpressionError, parse_count, \
    parse_int
from rr.repl.formatting import Fragment, Printer, address_fragments, hexdump_rows, table
from rr.repl.instructions import Instruction, listing

DEFAULT_MEM_LENGTH = 64
DEFAULT_DISAS_COUNT = 12


class CommandError(ValueError):
    """A command used wrongly: the message is the one line the user sees."""


class Quit(Exception):
    """quit: leave the REPL."""


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    usage: str
    summary: str
    details: str
    run: Callable[["Repl", list[str]], None]
    complete: str = ""          # what its arguments complete to: symbols, registers, words
    words: tuple[str, ...] = ()
    moves: bool = False         # an interrupted run keeps the position it reached


COMMANDS: list[Command] = []


def command(name: str, *aliases: str, usage: str = "", summary: str, details: str = "",
            complete: str = "", words: tuple[str, ...] = (), moves: bool = False):
    def register(function: Callable[["Repl", list[str]], None]):
        COMMANDS.append(Command(name, aliases, usage or name, summary, details.strip(), function,
                                complete, words, moves))
        return function
    return register


def lookup(word: str) -> Command | None:
    for cmd in COMMANDS:
        if word == cmd.name or word in cmd.aliases:
            return cmd
    return None


def all_names() -> list[str]:
    return sorted({name for cmd in COMMANDS for name in (cmd.name, *cmd.aliases)})


class Repl:
    """Runs command lines against one Debugger and prints through one Printer."""

    def __init__(self, debugger: Debugger, printer: Printer) -> None:
        self.debugger = debugger
        self.out = printer
        self.evaluator = Evaluator(debugger.symbols, debugger.register)

    # --- running ------------------------------------------------------------------------
    def execute(self, line: str) -> bool:
        """Run one command line; False when it failed (the reason is printed). Raises Quit."""
        debugger = self.debugger
        debugger.begin()
        words = line.split()
        if not words or words[0].startswith("#"):
            return True
        cmd = lookup(words[0])
        if cmd is None:
            self.out.error(f"unknown command {words[0]!r}; `help` lists the commands")
            return False
        start = debugger.position
        if cmd.moves:
            debugger.view_hart(None)      # as gdb, show the hart that runs where it stops
        try:
            cmd.run(self, words[1:])
            return True
        except (Quit, BrokenPipeError):
            raise
        except Interrupted as stopped:
            if cmd.moves:
                self.out.line(("mark", f"{stopped.why} at instruction {debugger.position}"))
                self.show_location()
            else:
                try:
                    debugger.restore(start)
                    self.out.line(("mark", f"{stopped.why}; back at instruction "
                                           f"{debugger.position}"))
                except Interrupted:           # Ctrl-C again while going back: stay here
                    self.out.line(("mark", f"interrupted at instruction {debugger.position}"))
            # The user's Ctrl-C fails the line; a live guest waiting for input is just a stop.
            return stopped.why != "interrupted"
        except (CommandError, ExpressionError) as exc:
            self.out.error(f"{cmd.name}: {exc}")
        except PageFault as exc:
            self.out.error(f"{cmd.name}: cannot read guest memory: {exc}")
        except RrError as exc:
            self.out.error(f"{cmd.name}: {exc}")
        except Exception as exc:          # noqa: BLE001 - one line, never a traceback
            self.out.error(f"{cmd.name}: internal error: {type(exc).__name__}: {exc}")
        return False

    # --- shared helpers -------------------------------------------------------------------
    def label(self, address: int) -> str:
        return self.debugger.symbols.describe(address)

    def where_fragments(self, address: int) -> list[Fragment]:
        return address_fragments(address, self.label(address))

    def address(self, text: str) -> int:
        return self.evaluator.address(text)

    def show_location(self) -> None:
        """'icount N  pc 0x... <sym+off>  instruction' after every movement."""
        debugger = self.debugger
        pc = debugger.pc
        hart = ["  hart ", ("num", str(debugger.hart))] if len(debugger.board.harts) > 1 else []
        self.out.line("icount ", ("num", str(debugger.position)), *hart,
                      "  pc ", *self.where_fragments(pc), "  ", *self.instruction_fragments(pc))

    def instruction_fragments(self, address: int) -> list[Fragment]:
        """'jal -0x4a  # 0x802007a8 <payload_checksum>' (direct targets resolved)."""
        try:
            insn = self.debugger.instruction(address)
        except PageFault:
            return [("dim", "(instruction not readable)")]
        return [insn.text, *target_fragments(insn.target, self.label)]

    def report(self, motion: Motion) -> None:
        debugger = self.debugger
        if motion.reason is Reason.END:
            self.out.line(("mark", f"end of recorded history: {self.ending()}"))
        elif motion.reason is Reason.START:
            self.out.line(("mark", "start of recorded history"))
        elif motion.reason is Reason.TRAP:
            scause = debugger.cpu.csr("scause")
            self.out.line(("mark", f"trap: {cause_name(scause)} (scause {scause:#x}), "
                                   "stopped at the handler"))
        elif motion.reason is Reason.BREAKPOINT:
            stop = motion.stop
            self.out.line(("hit", f"Breakpoint {stop.number}"), ", ",
                          *self.where_fragments(stop.address))
            if debugger.pc != stop.address:
                # An interrupt taken here: the handler's first instruction is the next one.
                self.out.line(("dim", "(an interrupt is taken at this point: the next instruction "
                                      "executed is the one at the breakpoint)"))
        elif motion.reason is Reason.WATCHPOINT:
            stop, hit = motion.stop, motion.hit
            parts: list[Fragment] = [("hit", f"Watchpoint {stop.number}"),
                                     f" ({stop.access} {stop.spec}), the {hit.kind} below: "]
            if motion.values is not None:
                old, new = motion.values
                parts += self.change(stop.address, stop.length, hit.address, old, new)
            else:
                value = debugger.try_read(hit.address, min(8, stop.address + stop.length
                                                          - hit.address))
                parts += [("sym", self.label(hit.address) or f"{hit.address:#x}")]
                if value is not None:
                    parts += [f" (value {int.from_bytes(value, 'little'):#x})"]
            self.out.line(*parts)
        self.show_location()

    def ending(self) -> str:
        return self.debugger.ending()

    def change(self, base: int, length: int, address: int, old: bytes | None,
               new: bytes | None) -> list[Fragment]:
        """'shared_list 0x0 -> 0x80202010' for the part of the watched range that changed."""
        pieces = value_changes(base, length, address, old, new)
        fragments: list[Fragment] = []
        for i, (at, before, after) in enumerate(pieces):
            if i:
                fragments.append(", ")
            where = self.label(at) or f"{at:#x}"
            fragments += [("sym", where), " "]
            if before == after:
                fragments += [before, ("dim", " (unchanged)")]
            else:
                fragments += [before, " -> ", ("changed", after)]
        return fragments

    def need(self, args: list[str], low: int, high: int, usage: str) -> None:
        if not low <= len(args) <= high:
            raise CommandError(f"usage: {usage}")


# ======================================================================================
# Movement
# ======================================================================================

def _count(args: list[str], usage: str) -> int:
    if len(args) > 1:
        raise CommandError(f"usage: {usage}")
    count = parse_count(args[0], "instruction count") if args else 1
    return count


@command("step", "s", "si", "stepi", usage="step [N]", moves=True,
         summary="execute N instructions (default 1)")
def _step(repl: Repl, args: list[str]) -> None:
    repl.report(repl.debugger.step(_count(args, "step [N]")))


@command("rstep", "rs", "rsi", "reverse-stepi", usage="rstep [N]",
         summary="go back N instructions (default 1)")
def _rstep(repl: Repl, args: list[str]) -> None:
    repl.report(repl.debugger.reverse_step(_count(args, "rstep [N]")))


@command("next", "n", "ni", "nexti", usage="next [N]", moves=True,
         summary="one instruction, stepping over calls and interrupts",
         details="""
A call (jal/jalr with rd = ra) runs until it returns to the next instruction
with the same stack pointer; an interrupt taken meanwhile runs until it comes
back. Breakpoints and watchpoints hit on the way stop it.""")
def _next(repl: Repl, args: list[str]) -> None:
    _repeat(repl, _count(args, "next [N]"), repl.debugger.next)


def _repeat(repl: Repl, count: int, move) -> None:
    """``move`` up to ``count`` times, stopping early at a hit or an edge of history."""
    motion = Motion(Reason.STEP)
    for _ in range(count):
        motion = move()
        if motion.reason is not Reason.STEP:
            break
    repl.report(motion)


@command("rnext", "rn", "rni", "reverse-nexti", usage="rnext [N]",
         summary="back one instruction in this function, over calls and traps",
         details="""
Steps back one instruction; if that lands in a callee or a trap handler (not
in the same function with the same stack pointer) it goes back further, to
the previous instruction of this function's frame (the call instruction,
after a return).""")
def _rnext(repl: Repl, args: list[str]) -> None:
    _repeat(repl, _count(args, "rnext [N]"), repl.debugger.reverse_next)


@command("continue", "c", "cont", usage="continue", moves=True,
         summary="run forward to the next breakpoint or watchpoint, or the end")
def _continue(repl: Repl, args: list[str]) -> None:
    repl.need(args, 0, 0, "continue")
    repl.report(repl.debugger.cont())


@command("rcontinue", "rc", "reverse-continue", usage="rcontinue",
         summary="run backward to the previous breakpoint or watchpoint, or the start",
         details="A watchpoint stops at the instruction that made the access, before it executes.")
def _rcontinue(repl: Repl, args: list[str]) -> None:
    repl.need(args, 0, 0, "rcontinue")
    repl.report(repl.debugger.reverse_cont())


@command("goto", "g", "seek", usage="goto ICOUNT | +N | -N | event N | start | end", moves=True,
         words=("start", "end", "event"),
         summary="go to an instruction count, an event of the trace, the start or the end",
         details="""
ICOUNT is an instruction count (decimal or 0x hex); +N and -N move relative to
here; `goto event N` goes to the Nth event of the trace as `events` numbers
them; `goto end` to the last instruction of recorded history.""")
def _goto(repl: Repl, args: list[str]) -> None:
    usage = "goto ICOUNT | +N | -N | event N | start | end"
    debugger = repl.debugger
    if not args or len(args) > 2:
        raise CommandError(f"usage: {usage}")
    if args[0] == "event":
        if len(args) != 2:
            raise CommandError("usage: goto event N (`events` shows the numbers)")
        number = parse_count(args[1], "event number")
        events = debugger.events
        if number >= len(events):
            raise CommandError(f"there is no event {number}: the trace has {len(events)} "
                               f"(numbered 0 to {len(events) - 1})" if events
                               else "the trace has no events")
        target = events[number].icount
        repl.out.line(f"event {number}: {format_event(events[number]).strip()}")
    elif len(args) == 2:
        raise CommandError(f"usage: {usage}")
    elif args[0] in ("end", "$"):
        target = debugger.length
    elif args[0] in ("start", "0"):
        target = 0
    elif args[0][0] in "+-":
        target = max(0, debugger.position + parse_int(args[0], "relative instruction count"))
    else:
        target = parse_count(args[0], "instruction count")
    if target > debugger.length and debugger.bounded:
        repl.out.line(("dim", f"(history ends at instruction {debugger.length})"))
        target = debugger.length
    repl.report(debugger.goto(target))


# ======================================================================================
# Breakpoints and watchpoints
# ======================================================================================

@command("break", "b", "br", usage="break ADDR|SYMBOL", complete="symbols",
         summary="stop continue/rcontinue when an instruction address is executed")
def _break(repl: Repl, args: list[str]) -> None:
    if not args:
        raise CommandError("usage: break ADDR|SYMBOL (e.g. break list_push, break 0x80200818)")
    spec = " ".join(args)
    address = repl.address(spec)
    stop = repl.debugger.add_breakpoint(address, spec)
    repl.out.line(f"Breakpoint {stop.number} at ", *repl.where_fragments(address))


_PHYSICAL_DETAILS = """
Addresses are virtual: the access must use that address, in whatever
address space is current when it happens (set before paging is on, across
satp writes and page-table edits; accesses through other mappings of the
same memory do not count). -p watches physical memory instead, through any
mapping (docs/watchpoints.md)."""
_DMA_DETAILS = """
A device's DMA into the range (a virtio-blk read) is a write too, named
by the device ("virtio-blk DMA") at the instruction that made the device
serve the request."""


@command("watch", "w", usage="watch [-r|-a] [-p] ADDR|SYMBOL [LEN]", complete="symbols",
         words=("-r", "-a", "-p"),
         summary="stop when memory is written (default), read (-r) or accessed (-a)",
         details="""
LEN defaults to the symbol's size for a data symbol, else 8. Like a hardware
watchpoint, it does not stop on a device's DMA into the range (`when` and
`last-write` list those).""" + _PHYSICAL_DETAILS)
def _watch(repl: Repl, args: list[str]) -> None:
    usage = "watch [-r|-a] [-p] ADDR|SYMBOL [LEN]"
    access = WatchKind.WRITE
    space = WatchSpace.VIRTUAL
    while args and args[0].startswith("-") and not args[0][1:2].isdigit():
        flag = args.pop(0)
        if flag in ("-r", "--read"):
            access = WatchKind.READ
        elif flag in ("-a", "--access"):
            access = WatchKind.ACCESS
        elif flag in ("-w", "--write"):
            access = WatchKind.WRITE
        elif flag in ("-p", "--physical"):
            space = WatchSpace.PHYSICAL
        else:
            raise CommandError(f"unknown option {flag!r}; usage: {usage}")
    if not 1 <= len(args) <= 2:
        raise CommandError(f"usage: {usage}")
    address, length = _range(repl, args, default=8)
    stop = repl.debugger.add_watchpoint(address, length, access, args[0], space)
    physical = " physical" if space is WatchSpace.PHYSICAL else ""
    repl.out.line(f"Watchpoint {stop.number} ({access}{physical}) on ",
                  *repl.where_fragments(address),
                  f", {length} byte{'s' if length != 1 else ''}")


def _space(args: list[str], usage: str) -> WatchSpace:
    """Take a leading -p (physical addresses) off ``args``."""
    if args and args[0] in ("-p", "--physical"):
        args.pop(0)
        return WatchSpace.PHYSICAL
    if args and args[0].startswith("-") and not args[0][1:2].isdigit():
        raise CommandError(f"unknown option {args[0]!r}; usage: {usage}")
    return WatchSpace.VIRTUAL


def _range(repl: Repl, args: list[str], default: int) -> tuple[int, int]:
    """ADDR|SYMBOL [LEN]: a plain data symbol defaults to its own size."""
    return repl.evaluator.span(args[0], args[1] if len(args) > 1 else None, default)


@command("delete", "d", usage="delete [N]",
         summary="delete breakpoint or watchpoint N (all of them without N)")
def _delete(repl: Repl, args: list[str]) -> None:
    repl.need(args, 0, 1, "delete [N]")
    debugger = repl.debugger
    if not args:
        gone = debugger.delete()
        repl.out.line(f"deleted all breakpoints and watchpoints ({len(gone)})")
        return
    number = parse_count(args[0], "breakpoint number")
    if number not in debugger.stops:
        known = ", ".join(map(str, debugger.stops)) or "none"
        raise CommandError(f"no breakpoint or watchpoint {number} (set: {known})")
    debugger.delete(number)
    repl.out.line(f"deleted {number}")


def _breakpoint_rows(repl: Repl) -> None:
    stops = list(repl.debugger.stops.values())
    if not stops:
        repl.out.line("no breakpoints or watchpoints")
        return
    rows: list[list[Fragment]] = [[("head", "num"), ("head", "type"), ("head", "address"),
                                   ("head", "what"), ("head", "hits")]]
    for stop in stops:
        kind = "breakpoint" if stop.kind is PointKind.BREAKPOINT else f"{stop.access} watch" \
            + (" (physical)" if stop.space is WatchSpace.PHYSICAL else "")
        what = repl.label(stop.address) or stop.spec
        if stop.kind is PointKind.WATCHPOINT:
            what += f" ({stop.length} byte{'s' if stop.length != 1 else ''})"
        rows.append([str(stop.number), kind, ("addr", f"{stop.address:#x}"), ("sym", what),
                     str(stop.hits)])
    repl.out.lines(table(rows, ">"))


# ======================================================================================
# State
# ======================================================================================

@command("hart", "harts", usage="hart [N|current]", words=("current",),
         summary="list the harts; `hart N` shows hart N's registers and memory",
         details="""
Each hart of a board built with --smp: its state (HSM), pc and the
instructions it has run so far; `*` marks the hart that runs the next
instruction, `=>` the one whose registers, memory and stack the other
commands show. `hart N` picks that one until `hart current` goes back to
following whichever hart runs.""")
def _hart(repl: Repl, args: list[str]) -> None:
    debugger = repl.debugger
    repl.need(args, 0, 1, "hart [N|current]")
    if args:
        if args[0] == "current":
            debugger.view_hart(None)
        else:
            try:
                debugger.view_hart(int(args[0], 0))
            except ValueError:
                raise CommandError(f"{args[0]!r} is not a hart number") from None
    board = debugger.board
    rows: list[list] = [["", ("head", "hart"), ("head", "state"), ("head", "pc"),
                         ("head", "function"), ("head", "instructions")]]
    for hart in board.harts:
        marker = "=>" if hart.index == debugger.hart else ""
        current = "*" if hart.index == board.current else ""
        pc = hart.cpu.pc
        retired = hart.retired if len(board.harts) > 1 else debugger.position
        rows.append([("mark", marker), f"{current}{hart.index}", hart.status.name.lower()
                     + (" (waiting)" if hart.waiting else ""), ("addr", f"{pc:#x}"),
                     ("sym", repl.label(pc) or "?"), ("num", f"{retired:,}")])
    repl.out.lines(table(rows, "<><<<>"))


@command("regs", "r", "registers", usage="regs [NAME...]", complete="registers",
         summary="general registers with ABI names, pc and privilege")
def _regs(repl: Repl, args: list[str]) -> None:
    debugger = repl.debugger
    if args:
        for name in args:
            name = name.lstrip("$")
            if name not in GPR_NUMBERS and name not in ("pc", "priv") and name not in CSR_NAMES:
                raise CommandError(f"unknown register {name!r}")
            value = debugger.register(name)
            label = repl.label(value)
            repl.out.line(("reg", f"{name:<8}"), ("num", f"{value:#018x}"),
                          f"  {value}" if value < 1 << 63 else "",
                          *((" ", ("sym", f"<{label}>")) if label else ()))
        return
    cpu = debugger.cpu
    priv = cpu.priv
    repl.out.line(("reg", "pc"), " ", *repl.where_fragments(cpu.pc), "  ", ("reg", "priv"), " ",
                  priv_name(priv), "  ", ("reg", "icount"), " ",
                  str(debugger.position))
    for row in range(0, 32, 4):
        parts: list[Fragment] = []
        for n in range(row, row + 4):
            if n > row:
                parts.append("  ")
            parts += [("reg", f"{GPR_NAMES[n]:>4}"), " ", ("num", f"{cpu.x(n):#018x}")]
        repl.out.line(*parts)


@command("csrs", "csr", usage="csrs",
         summary="supervisor CSRs, with sstatus, scause, stvec and satp decoded")
def _csrs(repl: Repl, args: list[str]) -> None:
    repl.need(args, 0, 0, "csrs")
    cpu = repl.debugger.cpu
    rows: list[list[Fragment]] = []
    for name in CSR_NAMES:
        value = cpu.csr(name)
        rows.append([("reg", name), ("num", f"{value:#018x}"), _decode_csr(repl, name, value)])
    for row in table(rows):
        repl.out.line(*row)


def _decode_csr(repl: Repl, name: str, value: int) -> str:
    if name == "sstatus":
        spp = "S" if value & SSTATUS_SPP else "U"
        return (f"SIE={int(bool(value & SSTATUS_SIE))} SPIE={int(bool(value & SSTATUS_SPIE))} "
                f"SPP={spp} SUM={int(bool(value & SSTATUS_SUM))} MXR={int(bool(value & SSTATUS_MXR))}")
    if name in ("sie", "sip"):
        bits = [label for bit, label in SIP_NAMES.items() if value & bit]
        return " ".join(bits) if bits else "-"
    if name == "stvec":
        mode = {0: "direct", 1: "vectored"}.get(value & 3, "reserved")
        label = repl.label(value & ~3)
        return f"{mode}" + (f", base <{label}>" if label else "")
    if name == "scause":
        return cause_name(value)
    if name == "sepc":
        label = repl.label(value)
        return f"<{label}>" if label else ""
    if name == "satp":
        number = value >> SATP_MODE_SHIFT
        if number == SATP_MODE_BARE:
            return "bare (no translation)"
        mode = SATP_MODE_NAMES.get(number, f"mode {number}")
        asid = (value >> SATP_ASID_SHIFT) & SATP_ASID_MASK
        return f"{mode}, asid {asid}, root table at {(value & SATP_PPN_MASK) << PAGE_SHIFT:#x}"
    return ""


@command("mem", "x", usage="mem ADDR [LEN]", complete="symbols",
         summary="guest memory (virtual, through the page tables) in hex and ASCII",
         details=f"LEN defaults to {DEFAULT_MEM_LENGTH} bytes; 16 bytes a line.")
def _mem(repl: Repl, args: list[str]) -> None:
    repl.need(args, 1, 2, "mem ADDR [LEN]")
    address = repl.address(args[0])
    length = parse_count(args[1], "length") if len(args) > 1 else DEFAULT_MEM_LENGTH
    if not 0 < length <= 1 << 20:
        raise CommandError("the length must be between 1 and 1048576 bytes")
    data, fault = repl.debugger.read_prefix(address, length)
    label = repl.label(address)
    if label:
        repl.out.line(("sym", f"<{label}>"), ":")
    repl.out.lines(hexdump_rows(address, data))
    if fault is not None:
        repl.out.error(f"{address + len(data):#x}: not readable ({fault.reason})")


@command("disas", "disassemble", "u", usage="disas [ADDR] [N]", complete="symbols",
         summary="disassemble N instructions (capstone) with symbols; => marks the pc",
         details=f"""
Without ADDR: around the pc (from its function's start when the function is
known). N defaults to {DEFAULT_DISAS_COUNT}.""")
def _disas(repl: Repl, args: list[str]) -> None:
    repl.need(args, 0, 2, "disas [ADDR] [N]")
    debugger = repl.debugger
    pc = debugger.pc
    count = DEFAULT_DISAS_COUNT
    if len(args) == 2:
        count = parse_count(args[1], "instruction count")
    if args and len(args) == 1 and args[0].isdigit() and not debugger.symbols.get(args[0]) \
            and int(args[0]) < 1000:
        count = int(args[0])                       # `disas 20`: 20 instructions at the pc
        args = []
    if not 0 < count <= 10_000:
        raise CommandError("the count must be between 1 and 10000")
    if args:
        instructions = listing(debugger.read, repl.address(args[0]), count)
    else:
        instructions = _around_pc(debugger, pc, count)
    if not instructions:
        raise CommandError(f"nothing readable at {repl.address(args[0]) if args else pc:#x}")
    current = None
    for insn in instructions:
        found = debugger.symbols.locate(insn.address)
        if found is not None and found[0] is not current:
            current = found[0]
            repl.out.line(("sym", f"<{current.name}>"), ":")
        repl.out.line(*_listing_line(repl, insn, pc))


def _around_pc(debugger: Debugger, pc: int, count: int) -> list[Instruction]:
    """``count`` instructions with the pc about a third of the way down, decoded from the
    start of its symbol (instruction boundaries are only certain from there)."""
    found = debugger.symbols.locate(pc)
    if found is not None and found[1] <= 64 * 1024:
        symbol, offset = found
        end = symbol.end if symbol.size else pc + 4 * count
        instructions = listing(debugger.read, symbol.address, (end - symbol.address) // 2 + 1)
        instructions = [i for i in instructions if i.address < end]
        index = next((n for n, i in enumerate(instructions) if i.address == pc), None)
        if index is not None:
            first = max(0, min(index - count // 3, len(instructions) - count))
            return instructions[first:first + count]
    return listing(debugger.read, pc, count)


def _listing_line(repl: Repl, insn: Instruction, pc: int) -> list[Fragment]:
    found = repl.debugger.symbols.locate(insn.address)
    offset = f"<+{found[1]}>" if found is not None else ""
    marker = ("mark", "=> ") if insn.address == pc else "   "
    parts: list[Fragment] = [marker, ("addr", f"{insn.address:#x}"), " ", ("dim", f"{offset:<7}"),
                             " ", ("dim", f"{insn.raw[::-1].hex():>8}"), "  ",
                             f"{insn.mnemonic:<8} {insn.operands}".rstrip()]
    return parts + target_fragments(insn.target, repl.label)


def target_fragments(target: int | None, label) -> list[Fragment]:
    """'  # 0x80200010 <list_push>' after a branch or call, nothing otherwise."""
    if target is None:
        return []
    parts: list[Fragment] = ["  ", ("dim", "# "), ("addr", f"{target:#x}")]
    name = label(target)
    if name:
        parts += [" ", ("sym", f"<{name}>")]
    return parts


@command("where", "wh", "bt", usage="where",
         summary="pc, symbol, privilege and trap state (in a trap handler? why?)",
         details="""
The trap state compares the last entry at stvec with the last sret executed
before here (sret instructions are found in the guest image).""")
def _where(repl: Repl, args: list[str]) -> None:
    repl.need(args, 0, 0, "where")
    debugger = repl.debugger
    cpu = debugger.cpu
    pc = cpu.pc
    position = debugger.position
    end_note = f" of {debugger.length}"
    if position >= debugger.length:
        end_note += f" (the end: {repl.ending()})"
    rows: list[list[Fragment]] = [
        [("head", "icount  "), str(position), end_note],
    ]
    rows.append([("head", "pc      "), *repl.where_fragments(pc), "  ",
                 *repl.instruction_fragments(pc)])
    rows.append([("head", "priv    "), priv_long_name(cpu.priv)])
    state = debugger.trap_state()
    cause = f"{cause_name(state.scause)} (scause {state.scause:#x})"
    if state.in_handler is None:
        verdict = [f"last trap entry at instruction {state.entered}: {cause}"
                   if state.entered is not None else "no trap entry found"]
        verdict.append(" (no sret in the image: cannot tell whether it returned)")
        rows.append([("head", "trap    "), *verdict])
    elif state.in_handler:
        when = "entering it now" if state.entered == position else \
            f"entered at instruction {state.entered}"
        rows.append([("head", "trap    "), ("mark", "in a trap handler"), f", {when}: {cause}"])
    elif state.entered is None and state.returned is None:
        rows.append([("head", "trap    "), "not in a trap handler (no trap taken before here)"])
    else:
        rows.append([("head", "trap    "), "not in a trap handler",
                     f" (last trap: {cause} at instruction {state.entered}, "
                     f"returned with sret at {state.returned})" if state.entered is not None
                     else f" (sret at instruction {state.returned})"])
    if state.in_handler or state.in_handler is None and state.entered is not None:
        rows.append(["        ", "sepc ", *repl.where_fragments(state.sepc),
                     f"  stval {state.stval:#x}"])
    repl.out.lines(rows)


@command("print", "p", usage="print EXPR", complete="symbols",
         summary="the value of an address expression (symbols, $registers, numbers, + and -)")
def _print(repl: Repl, args: list[str]) -> None:
    if not args:
        raise CommandError("usage: print EXPR (e.g. print $sp, print shared_list+8)")
    value = repl.address(" ".join(args))
    label = repl.label(value)
    signed = value - (1 << 64) if value >> 63 else value
    repl.out.line(("num", f"{value:#x}"), f"  {signed}",
                  *((" ", ("sym", f"<{label}>")) if label else ()))


# ======================================================================================
# History
# ======================================================================================

@command("events", "ev", usage="events [N|all]",
         summary="the trace's recorded events around now (N on each side, default "
                 f"{EVENTS_AROUND})")
def _events(repl: Repl, args: list[str]) -> None:
    repl.need(args, 0, 1, "events [N|all]")
    debugger = repl.debugger
    events = debugger.events
    if not events:
        repl.out.line("the trace has no events")
        return
    here = debugger.position
    around = None if args and args[0] == "all" else \
        parse_count(args[0], "number of events") if args else EVENTS_AROUND
    window = events_around(events, here, around)
    first, split, last = window.first, window.split, window.last
    repl.out.line(f"{len(events)} event{'s' if len(events) != 1 else ''} in the trace; "
                  f"showing {first} to {last - 1}:")
    for index in range(first, last):
        if index == split:
            repl.out.line(("mark", f"  --> now: instruction {here}"))
        repl.out.line(("dim", f"#{index:<5}"), format_event(events[index]))
    if split == last:
        repl.out.line(("mark", f"  --> now: instruction {here}"))


@command("console", "con", usage="console [all]", words=("all",),
         summary="the guest's console output up to now, the current point marked")
def _console(repl: Repl, args: list[str]) -> None:
    repl.need(args, 0, 1, "console [all]")
    if args and args[0] != "all":
        raise CommandError("usage: console [all]")
    debugger = repl.debugger
    here = debugger.position
    console = debugger.session.console
    before = console.text_until(here).decode("utf-8", "replace").replace("\r", "")
    later = b"".join(data for at, data in console.entries if at >= here)
    later_text = later.decode("utf-8", "replace").replace("\r", "")
    if before:
        repl.out.text(before.rstrip("\n") if before.endswith("\n") else before)
    else:
        repl.out.line(("dim", "(no output before this point)"))
    known = debugger.timeline.end is not None
    tail = f"{len(later)} more byte{'s' if len(later) != 1 else ''} later" if later else \
        ("no more output later" if known else "later output not replayed yet")
    repl.out.line(("mark", f"-------- now: instruction {here} ({tail}) --------"))
    if args and later_text:
        repl.out.text(later_text.rstrip("\n"))


@command("type", "input", usage="type [-n] TEXT",
         summary="a live guest: queue TEXT and a newline as console input",
         details="""
The guest receives the bytes the next time it reads its UART (its console
belongs to the REPL's terminal otherwise). Escapes as in Python: \\r, \\t,
\\x03. -n: no newline. Going back in time and forward again replays the
input where the guest took it.""")
def _type(repl: Repl, args: list[str]) -> None:
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    if not args:
        raise CommandError("usage: type [-n] TEXT")
    try:
        text = " ".join(args).encode("latin-1").decode("unicode_escape").encode("latin-1")
    except (UnicodeError, ValueError) as exc:
        raise CommandError(f"bad escape in the text: {exc}") from None
    data = text + (b"\n" if newline else b"")
    repl.debugger.history.type(data)
    repl.out.line(f"queued {len(data)} byte{'s' if len(data) != 1 else ''} for the guest's "
                  "console")


@command("when", usage="when [-p] ADDR|SYMBOL [LEN]", complete="symbols", words=("-p",),
         summary="every write to memory over the whole trace: icount, pc, old -> new",
         details="""
Replays the whole trace once with a write watchpoint; its hook notes the
value before and after each write. The position is kept. LEN defaults to
the symbol's size for a data symbol, else 8.""" + _DMA_DETAILS + _PHYSICAL_DETAILS)
def _when(repl: Repl, args: list[str]) -> None:
    space = _space(args, "when [-p] ADDR|SYMBOL [LEN]")
    repl.need(args, 1, 2, "when [-p] ADDR|SYMBOL [LEN]")
    address, length = _range(repl, args, default=8)
    writes = repl.debugger.writes(address, length, space)
    label = repl.label(address)
    where = f"{label} ({address:#x}, " if label else f"{address:#x} ("
    repl.out.line(f"{len(writes)} write{'s' if len(writes) != 1 else ''} to {where}"
                  f"{length} byte{'s' if length != 1 else ''}) in the trace"
                  + (":" if writes else ""))
    _write_table(repl, writes, address, length)


@command("last-write", "lw", "lastwrite", usage="last-write [-p] ADDR|SYMBOL [LEN]",
         complete="symbols", words=("-p",),
         summary="the last instruction before now that wrote memory, with the values",
         details=_DMA_DETAILS + _PHYSICAL_DETAILS)
def _last_write(repl: Repl, args: list[str]) -> None:
    space = _space(args, "last-write [-p] ADDR|SYMBOL [LEN]")
    repl.need(args, 1, 2, "last-write [-p] ADDR|SYMBOL [LEN]")
    address, length = _range(repl, args, default=8)
    write = repl.debugger.last_write(address, length, space)
    name = repl.label(address) or f"{address:#x}"
    if write is None:
        repl.out.line(f"nothing wrote {name} before instruction {repl.debugger.position}")
        return
    repl.out.line(f"last write to {name} before instruction {repl.debugger.position}:")
    _write_table(repl, [write], address, length)


def _write_table(repl: Repl, writes: list[Write], address: int, length: int) -> None:
    if not writes:
        return
    here = repl.debugger.position
    smp = len(repl.debugger.board.harts) > 1
    rows: list[list] = [["", ("head", "icount"), *([("head", "hart")] if smp else []),
                         ("head", "pc"), ("head", "function"),
                         ("head", "where"), ("head", "old -> new")]]
    for write in writes:
        marker = ("mark", "=>") if write.icount == here else ""
        pieces = value_changes(address, length, write.address, write.old, write.new)
        for n, (at, before, after) in enumerate(pieces):
            change: list[Fragment] = [before, ("dim", " (unchanged)")] if before == after \
                else [before, " -> ", ("changed", after)]
            where = ("sym", repl.label(at) or f"{at:#x}")
            hart = [("num", str(write.hart)) if not n else ""] if smp else []
            if n:
                rows.append(["", "", *hart, "", "", where, change])
            else:
                # a device's DMA is named in place of the function it happened under
                who = ("sym", write.writer) if write.device is not None \
                    else ("sym", repl.label(write.pc) or "?")
                rows.append([marker, ("num", str(write.icount)), *hart, ("addr", f"{write.pc:#x}"),
                             who, where, change])
    repl.out.lines(table(rows, " >>" if smp else " >"))


# ======================================================================================
# The trace and the REPL itself
# ======================================================================================

@command("info", "i", usage="info [breakpoints|b|watchpoints|symbol ADDR]",
         words=("breakpoints", "watchpoints", "symbol"),
         summary="the trace summary (as `rrvm info`), or breakpoints, or a symbol")
def _info(repl: Repl, args: list[str]) -> None:
    if not args:
        repl.out.text(repl.debugger.history.summary(repl.debugger.timeline))
        repl.out.line(f"now          instruction {repl.debugger.position}")
        return
    what = args[0]
    if what in ("breakpoints", "b", "break", "watchpoints", "watch", "w"):
        repl.need(args, 1, 1, "info breakpoints")
        _breakpoint_rows(repl)
    elif what in ("symbol", "sym"):
        repl.need(args, 2, 2, "info symbol ADDR")
        value = repl.address(args[1])
        label = repl.label(value)
        repl.out.line(f"{value:#x} is " + (f"<{label}>" if label else "not in any known symbol"))
    else:
        raise CommandError(f"unknown info topic {what!r} (known: breakpoints, symbol)")


@command("help", "h", "?", usage="help [CMD]", complete="commands",
         summary="list the commands, or explain one")
def _help(repl: Repl, args: list[str]) -> None:
    repl.need(args, 0, 1, "help [CMD]")
    if args:
        cmd = lookup(args[0])
        if cmd is None:
            raise CommandError(f"no command {args[0]!r}; `help` lists them")
        repl.out.line(("head", cmd.usage))
        repl.out.line(f"  {cmd.summary}")
        if cmd.details:
            for row in cmd.details.splitlines():
                repl.out.line(f"  {row}")
        if cmd.aliases:
            repl.out.line(("dim", f"  aliases: {', '.join(cmd.aliases)}"))
        return
    rows = [[("head", cmd.usage), cmd.summary] for cmd in COMMANDS]
    repl.out.lines(table(rows))
    repl.out.line(("dim", "Addresses: numbers, symbols, $registers, with + and -. "
                          "`help CMD` for more; Ctrl-C interrupts a long command."))


@command("quit", "q", "exit", usage="quit", summary="leave the REPL (Ctrl-D too)")
def _quit(repl: Repl, args: list[str]) -> None:
    raise Quit()


# The analyses over the whole history register their commands here (after help and quit).
from rr.repl import analysis_commands  # noqa: E402,F401
