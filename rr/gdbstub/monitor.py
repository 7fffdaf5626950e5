"""`monitor ...` commands of a replay: time and trace facts gdb has no command for.

Each command returns its output as text (errors included: gdb shows it
either way, and a typo should not look like a protocol failure). Positions
are instruction counts, the same numbers `rrvm replay --to` and `rrvm dump`
use.

`monitor seek` moves the replay behind gdb's back: gdb keeps showing its
cached registers and frame until it next stops, so the output says how to
refresh them.
"""

from __future__ import annotations

import shlex
from typing import Callable

from rr.gdbstub.constants import DEFAULT_WATCH_LENGTH, MAX_WATCH_LENGTH
from rr.log.events import format_event
from rr.monitor.riscv import disassemble_one
from rr.replay import queries
from rr.replay.hits import WatchSpace
from rr.replay.timeline import Timeline


class MonitorError(Exception):
    """A command used wrongly; the message is shown to the user."""


class ReplayMonitor:
    """The command set of a replay; ``run`` takes one line as the user typed it after `monitor`.

    ``summary`` gives `monitor info` its first lines: what history this is (a
    trace, or a live guest's recording so far).
    """

    def __init__(self, timeline: Timeline, summary: Callable[[], list[str]]) -> None:
        self.timeline = timeline
        self.summary = summary
        self._commands: dict[str, tuple[Callable[[list[str]], str], str]] = {
            "icount": (self._icount, "icount                 the current instruction count"),
            "seek": (self._seek, "seek N                 go to instruction count N"),
            "events": (self._events, f"events [N]             N recorded events before and "
                                     f"after now (default {queries.EVENTS_AROUND})"),
            "info": (self._info, "info                   what the trace holds, and where we are"),
            "last-write": (self._last_write, "last-write [-p] ADDR [LEN]  the last instruction "
                                             "before now that wrote ADDR (virtual, -p physical; "
                                             "LEN bytes, default 1)"),
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
        except MonitorError as exc:
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
        target = _number(args[0], "instruction count")
        reached = self.timeline.seek(target)
        note = "" if reached == target else f" (history ends at {reached})"
        return (f"now at instruction {reached}{note}, pc {self.timeline.board.cpu.pc:#x}\n"
                "(gdb still shows the old state: 'maint flush register-cache' refreshes it)\n")

    def _events(self, args: list[str]) -> str:
        if len(args) > 1:
            raise MonitorError("usage: monitor events [N]")
        count = _number(args[0], "event count") if args else queries.EVENTS_AROUND
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
        space = WatchSpace.VIRTUAL
        if args and args[0] in ("-p", "--physical"):
            space = WatchSpace.PHYSICAL
            args = args[1:]
        if not 1 <= len(args) <= 2:
            raise MonitorError("usage: monitor last-write [-p] ADDR [LEN]")
        address = _number(args[0], "address")
        length = _number(args[1], "length") if len(args) == 2 else DEFAULT_WATCH_LENGTH
        if not 1 <= length <= MAX_WATCH_LENGTH:
            raise MonitorError(f"length must be 1 to {MAX_WATCH_LENGTH}")
        here = self.timeline.position
        write = queries.last_write(self.timeline, address, length, space=space)
        what = ("physical " if space is WatchSpace.PHYSICAL else "") + f"{address:#x}" + (f" ({length} bytes)" if length > 1 else "")
        if write is None:
            return f"no write to {what} before instruction {here}\n"
        text = f": {disassemble_one(write.instruction, write.pc)}" \
            if write.instruction is not None else ""
        return (f"last write to {what} before instruction {here}: instruction {write.icount}, "
                f"pc {write.pc:#x}{text} (wrote at {write.address:#x})\n")

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


def _number(text: str, what: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise MonitorError(f"{what} '{text}' is not a number (decimal, or hex with 0x)") from None
    if value < 0:
        raise MonitorError(f"{what} must not be negative")
    return value


def _no_arguments(args: list[str]) -> None:
    if args:
        raise MonitorError(f"takes no arguments (got '{' '.join(args)}')")
