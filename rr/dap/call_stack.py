"""The call stack from DWARF call frame information (.debug_frame / .eh_frame).

Each frame's rule row (at its pc; at pc - 1 for a caller, whose pc is a
return address just past the call) gives the canonical frame address (CFA)
from a register plus an offset, and where the caller's registers were
saved relative to it. The caller's pc is the saved ra (or ra itself in a
leaf that never saved it), its sp the CFA. Where there is no rule because
the frame is a trap's (the assembly that saved the interrupted registers),
the walk goes on into the interrupted code at its sepc with the registers
the trap saved, as gdb's `bt` does with rrvm's unwinder: both read trap
frames through rr/gdbstub/gdb/trap_frames.py. The walk stops where there is
no rule otherwise, at a null return address, when a frame would be below
the one it called, or when memory cannot be read.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Callable

from elftools.common.exceptions import DWARFError, ELFError
from elftools.dwarf.callframe import FDE, RegisterRule

from rr.dap.dwarf_info import dwarf_of
from rr.gdbstub.gdb.trap_frames import REGISTER_NAMES, TrapFrames

MAX_FRAMES = 64
REG_RA, REG_SP = 1, 2
WORD = 8
MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Frame:
    pc: int              # where this frame executes (a caller's: its return address)
    sp: int
    caller: bool         # a return address: its source line is that of pc - 1 (the call)
    # Its registers by DWARF number, as far as unwinding knows them (a caller's
    # caller-saved ones are the callee's, as gdb assumes).
    registers: dict[int, int] = field(default_factory=dict, compare=False)

    @property
    def code(self) -> int:
        """The address its source line, scopes and variables are looked up at."""
        return self.pc - 1 if self.caller else self.pc


NO_TRAP_FRAMES = TrapFrames(lambda name: None)


class CallFrameInfo:
    def __init__(self, fdes: list[FDE]) -> None:
        self._fdes = sorted(fdes, key=lambda fde: fde.header["initial_location"])
        self._starts = [fde.header["initial_location"] for fde in self._fdes]
        self._rows: dict[int, list[dict]] = {}

    @classmethod
    def from_elf(cls, data: bytes) -> "CallFrameInfo":
        """The ELF's call frame information; empty without an ELF or CFI."""
        dwarf = dwarf_of(data)
        if dwarf is None:
            return cls([])
        try:
            entries = dwarf.CFI_entries() if dwarf.has_CFI() else \
                dwarf.EH_CFI_entries() if dwarf.has_EH_CFI() else []
            return cls([entry for entry in entries if isinstance(entry, FDE)])
        except (ELFError, DWARFError, ValueError, KeyError, AttributeError):
            return cls([])

    def _row(self, pc: int) -> dict | None:
        index = bisect.bisect_right(self._starts, pc) - 1
        if index < 0:
            return None
        fde = self._fdes[index]
        if pc >= fde.header["initial_location"] + fde.header["address_range"]:
            return None
        rows = self._rows.get(index)
        if rows is None:
            try:
                rows = fde.get_decoded().table
            except (DWARFError, ValueError, KeyError):
                rows = []
            self._rows[index] = rows
        row = None
        for candidate in rows:
            if candidate["pc"] > pc:
                break
            row = candidate
        return row

    def cfa(self, pc: int, registers: dict[int, int]) -> int | None:
        """The canonical frame address of the innermost frame, or None without a rule."""
        row = self._row(pc)
        if row is None or row["cfa"].expr is not None or row["cfa"].reg not in registers:
            return None
        return (registers[row["cfa"].reg] + row["cfa"].offset) & MASK64

    def unwind(self, pc: int, registers: dict[int, int],
               read: Callable[[int, int], bytes | None], sepc: int = 0,
               traps: TrapFrames = NO_TRAP_FRAMES) -> list[Frame]:
        """Frames from the innermost (``pc`` with ``registers``: DWARF number -> value)
        outwards; ``read`` gives memory, or None; ``sepc`` is the hart's now, for a stop at
        the first instruction of a trap entry; ``traps`` knows the guest's trap frames."""
        def read_word(address: int) -> int | None:
            data = read(address, WORD)
            return int.from_bytes(data, "little") if data is not None and len(data) == WORD \
                else None

        regs = dict(registers)
        frames = [Frame(pc, regs.get(REG_SP, 0), caller=False, registers=regs)]
        while len(frames) < MAX_FRAMES:
            frame = frames[-1]
            row = self._row(frame.code)
            if row is None or row["cfa"].expr is not None or row["cfa"].reg not in regs:
                code = traps.interrupted(frame.pc, len(frames) == 1,
                                         _register_reader(regs, sepc), read)
                if code is None or not code.pc:
                    break
                regs = dict(code.registers)
                frames.append(Frame(code.pc, regs.get(REG_SP, 0), caller=False, registers=regs))
                continue
            cfa = (regs[row["cfa"].reg] + row["cfa"].offset) & MASK64
            caller = dict(regs)
            for number, rule in row.items():
                if not isinstance(number, int):
                    continue
                value = _apply(number, rule, cfa, regs, read_word)
                if value is None:
                    caller.pop(number, None)
                else:
                    caller[number] = value
            caller[REG_SP] = cfa
            ra = caller.get(REG_RA)
            # A leaf's CFA may be its sp (nothing pushed); a frame further down is broken.
            if not ra or cfa < frame.sp or (ra, cfa) == (frame.pc, frame.sp):
                break
            regs = caller
            frames.append(Frame(ra, cfa, caller=True, registers=regs))
        return frames


def _register_reader(regs: dict[int, int], sepc: int) -> Callable[[str], int]:
    """A frame's registers by the names trap_frames uses (x0..x31 and sepc)."""
    def register(name: str) -> int:
        return sepc if name == "sepc" else regs.get(REGISTER_NAMES.index(name), 0)
    return register


def _apply(number: int, rule: RegisterRule, cfa: int, regs: dict[int, int],
           read_word: Callable[[int], int | None]) -> int | None:
    if rule.type == RegisterRule.OFFSET:
        return read_word((cfa + rule.arg) & MASK64)
    if rule.type == RegisterRule.VAL_OFFSET:
        return (cfa + rule.arg) & MASK64
    if rule.type == RegisterRule.REGISTER:
        return regs.get(rule.arg)
    if rule.type == RegisterRule.SAME_VALUE:
        return regs.get(number)
    return None                         # undefined, or an expression: not known
