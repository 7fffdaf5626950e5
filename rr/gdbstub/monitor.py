"""`monitor ...` commands of a replay: time and trace facts gdb has no command for.

Each command returns its output as text (errors included: gdb shows it
either way, and a typo should not look like a protocol failure). Positions
are instruction counts, the same numbers `rrvm replay --to` and `rrvm dump`
use. Addresses are the REPL's expressions (rr.repl.expressions: numbers,
symbols, $registers, sums such as `$sp+16`), evaluated against the
registers where the replay is now; gdb passes the text through untouched.

`monitor seek` moves the replay behind gdb's back: gdb keeps showing its
cached registers and frame until it next stops, so the output says how to
refresh them.
"""

from __future__ import annotations

import shlex
from contextlib import contextmanager
from typing import Callable, Iterator

from rr.analysis.diff import diff
from rr.analysis.logpoints import logpoint
from rr.analysis.origin import DEFAULT_DEPTH, origin
from rr.analysis.subject import Subject, open_trace
from rr.errors import RrError

from rr.gdbstub.constants import DEFAULT_WATCH_LENGTH, MAX_WATCH_LENGTH
from rr.log.events import format_event
from rr.monitor.riscv import disassemble_one
from rr.replay import queries
from rr.replay.hits import WatchSpace
from rr.replay.queries import Write, value_changes
from rr.replay.timeline import Timeline
from rr.repl.expressions import Evaluator, ExpressionError, parse_count, register_reader
from rr.repl.symbols import SymbolTable

LAST_WRITE_USAGE = "last-write [-p] ADDR [LEN]"
WHEN_USAGE = "when [-p] ADDR [LEN]"


class MonitorError(Exception):
    """A command used wrongly; the message is shown to the user."""


class ReplayMonitor:
    """The command set of a replay; ``run`` takes one line as the user typed it after `monitor`.

    ``summary`` gives `monitor info` its first lines: what history this is (a
    trace, or a live guest's recording so far). ``symbols`` name addresses in
    expressions and in the output.
    """

    def __init__(self, timeline: Timeline, summary: Callable[[], list[str]],
                 symbols: SymbolTable | None = None) -> None:
        self.timeline = timeline
        self.summary = summary
        self.symbols = symbols if symbols is not None else SymbolTable()
        board = timeline.board            # the hart that runs now (with --smp, it changes)
        self.evaluator = Evaluator(self.symbols, lambda name: register_reader(board.cpu)(name))
        self._commands: dict[str, tuple[Callable[[list[str]], str], str]] = {
            "icount": (self._icount, "icount                 the current instruction count"),
            "seek": (self._seek, "seek N                 go to instruction count N"),
            "events": (self._events, f"events [N]             N recorded events before and "
                                     f"after now (default {queries.EVENTS_AROUND})"),
            "info": (self._info, "info                   what the trace holds, and where we are"),
            "last-write": (self._last_write, f"{LAST_WRITE_USAGE}  the last instruction "
                                             "before now that wrote ADDR, or made a device "
                                             "write it by DMA (virtual, -p physical; "
                                             "LEN bytes: a data symbol's size, else "
                                             f"{DEFAULT_WATCH_LENGTH})"),
            "when": (self._when, f"{WHEN_USAGE}       every instruction in history that wrote "
                                 "ADDR (or made a device write it by DMA), with the values "
                                 "before and after"),
            "trace": (self._trace, "trace ADDR|FUNCTION [EXPR...]  every time the pc reached "
                                   "ADDR in the whole history, with the values there"),
            "origin": (self._origin, "origin [--depth N] ADDR|$REG [LEN]  where the value now "
                                     "came from, step by step back"),
            "diff": (self._diff, "diff OTHER.rrt         where another recording of this guest "
                                 "parts from this one"),
            "checkpoints": (self._checkpoints, "checkpoints            positions of the checkpoints"),
            "checkpoint": (self._checkpoint, "checkpoint             take a checkpoint here"),
            "help": (self._help, "help                   this list"),
        }

    def run(self, line: str) -> str:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            return f"rrvm: cannot parse '{line}': {exc}\n"
        if not words:
            return self._help([])
        name, args = words[0], words[1:]
        command = self._commands.get(name)
        if command is None:
            return f"rrvm: unknown monitor command '{name}'; 'monitor help' lists them\n"
        try:
            return command[0](args)
        except (MonitorError, ExpressionError) as exc:
            return f"rrvm: {name}: {exc}\n"

    # --- commands -------------------------------------------------------------
    def _help(self, args: list[str]) -> str:
        lines = ["rrvm monitor commands (positions are instruction counts):"]
        lines += [f"  {text}" for _, text in self._commands.values()]
        return "\n".join(lines) + "\n"

    def _icount(self, args: list[str]) -> str:
        _no_arguments(args)
        return f"icount {self.timeline.position}\n"

    def _seek(self, args: list[str]) -> str:
        if len(args) != 1:
            raise MonitorError("usage: monitor seek N")
        target = parse_count(args[0], "instruction count")
        reached = self.timeline.seek(target)
        note = "" if reached == target else f" (history ends at {reached})"
        return (f"now at instruction {reached}{note}, pc {self.timeline.board.cpu.pc:#x}\n"
                "(gdb still shows the old state: 'maint flush register-cache' refreshes it)\n")

    def _events(self, args: list[str]) -> str:
        if len(args) > 1:
            raise MonitorError("usage: monitor events [N]")
        count = parse_count(args[0], "event count") if args else queries.EVENTS_AROUND
        events = queries.recorded_events(self.timeline)
        window = queries.events_around(events, self.timeline.position, count)
        lines = [format_event(event) for event in window.before]
        lines.append(f"{'-' * 6} now: instruction {window.now} {'-' * 6}")
        lines += [format_event(event) for event in window.after]
        if not events:
            lines.append("(the trace records no events)")
        return "\n".join(lines) + "\n"

    def _info(self, args: list[str]) -> str:
        _no_arguments(args)
        timeline = self.timeline
        lines = self.summary()
        lines.append(f"events       {len(queries.recorded_events(timeline))}")
        lines.append(f"now          instruction {timeline.position}, pc "
                     f"{timeline.board.cpu.pc:#x}")
        lines.append(f"checkpoints  {len(timeline.checkpoints.positions())}")
        return "\n".join(lines) + "\n"

    def _last_write(self, args: list[str]) -> str:
        space, address, length = self._watched(args, LAST_WRITE_USAGE)
        here = self.timeline.position
        write = queries.last_write(self.timeline, address, length, space=space)
        what = self._range_words(space, address, length)
        if write is None:
            return f"no write to {what} before instruction {here}\n"
        return f"last write to {what} before instruction {here}: {self._write_words(write)}\n"

    def _when(self, args: list[str]) -> str:
        space, address, length = self._watched(args, WHEN_USAGE)
        writes = queries.writes(self.timeline, address, length, space=space)
        count = f"{len(writes)} write{'s' if len(writes) != 1 else ''}"
        lines = [f"{count} to {self._range_words(space, address, length)} in history"
                 + (":" if writes else "")]
        for write in writes:
            changes = ", ".join(
                f"{self.symbols.describe(at) or f'{at:#x}'} {before} -> {after}"
                for at, before, after in value_changes(address, length, write.address,
                                                       write.old, write.new))
            lines.append(f"  {self._write_words(write)}: {changes}")
        return "\n".join(lines) + "\n"

    def _watched(self, args: list[str], usage: str) -> tuple[WatchSpace, int, int]:
        """[-p] ADDR [LEN] of last-write and when."""
        space = WatchSpace.VIRTUAL
        if args and args[0] in ("-p", "--physical"):
            space = WatchSpace.PHYSICAL
            args = args[1:]
        if not 1 <= len(args) <= 2:
            raise MonitorError(f"usage: monitor {usage}")
        address, length = self.evaluator.span(args[0], args[1] if len(args) == 2 else None,
                                               DEFAULT_WATCH_LENGTH)
        if not 1 <= length <= MAX_WATCH_LENGTH:
            raise MonitorError(f"length must be 1 to {MAX_WATCH_LENGTH}")
        return space, address, length

    def _range_words(self, space: WatchSpace, address: int, length: int) -> str:
        """'physical 0x80201000 (8 bytes)', 'panic_cpu (0xffffffff80c0a1f8, 4 bytes)'."""
        prefix = "physical " if space is WatchSpace.PHYSICAL else ""
        name = self.symbols.describe(address) if space is WatchSpace.VIRTUAL else ""
        size = f"{length} bytes" if length > 1 else ""
        if name:
            return f"{prefix}{name} ({address:#x}" + (f", {size})" if size else ")")
        return f"{prefix}{address:#x}" + (f" ({size})" if size else "")

    def _write_words(self, write: Write) -> str:
        """'instruction 1234, pc 0x80200024 <clear_bss+0x8>: sd zero, 0(t0) (wrote at 0x...)',
        'virtio-blk DMA during instruction 1234, ...' for a device's write."""
        name = self.symbols.describe(write.pc)
        where = f"pc {write.pc:#x}" + (f" <{name}>" if name else "")
        code = f": {disassemble_one(write.instruction, write.pc)}" \
            if write.instruction is not None else ""
        by = f"{write.writer} during " if write.device is not None else ""
        return f"{by}instruction {write.icount}, {where}{code} (wrote at {write.address:#x})"

    def _trace(self, args: list[str]) -> str:
        if not args:
            raise MonitorError("usage: monitor trace ADDR|FUNCTION [EXPR...]")
        with _user_errors():
            return logpoint(self._subject(), args[0], args[1:]).text() + "\n"

    def _origin(self, args: list[str]) -> str:
        depth = DEFAULT_DEPTH
        if args and args[0] in ("--depth", "-d"):
            if len(args) < 2:
                raise MonitorError("usage: monitor origin [--depth N] ADDR|$REG [LEN]")
            depth = parse_count(args[1], "depth")
            args = args[2:]
        if not 1 <= len(args) <= 2:
            raise MonitorError("usage: monitor origin [--depth N] ADDR|$REG [LEN]")
        length = parse_count(args[1], "length") if len(args) == 2 else None
        with _user_errors():
            return origin(self._subject(), args[0], depth, length).text() + "\n"

    def _diff(self, args: list[str]) -> str:
        if len(args) != 1:
            raise MonitorError("usage: monitor diff OTHER.rrt")
        with _user_errors():
            return diff(self._subject(), open_trace(args[0], symbols=self.symbols)).text() + "\n"

    def _subject(self) -> Subject:
        """The analyses' view of this history, with the symbols the stub was given."""
        return Subject(self.timeline, self.symbols)

    def _checkpoints(self, args: list[str]) -> str:
        _no_arguments(args)
        positions = self.timeline.checkpoints.positions()
        return f"{len(positions)} checkpoints at instructions: " + \
            ", ".join(str(p) for p in positions) + "\n"

    def _checkpoint(self, args: list[str]) -> str:
        _no_arguments(args)
        if self.timeline.at_end:
            # The machine has exited here; a checkpoint would not remember that.
            raise MonitorError("not possible at the end of history (step back first)")
        checkpoint = self.timeline.checkpoints.take()
        return f"checkpoint at instruction {checkpoint.icount}\n"


@contextmanager
def _user_errors() -> Iterator[None]:
    """A refused question (another guest's trace, a trace that cannot be read) is the
    command's one-line answer."""
    try:
        yield
    except RrError as exc:
        raise MonitorError(str(exc)) from None


def _no_arguments(args: list[str]) -> None:
    if args:
        raise MonitorError(f"takes no arguments (got '{' '.join(args)}')")
