"""A gdb unwinder that walks out of a RISC-V trap handler into the interrupted code.

Load it in gdb-multiarch (it needs nothing but gdb's own Python):

    (gdb) source rr/gdbstub/gdb/trap_unwinder.py

Without it, `bt` inside a trap handler ends at the assembly that saved the
interrupted registers. With it, the frame of that assembly is unwound from
the registers it saved: the next frame is the interrupted code, at the saved
`sepc`, with its own registers, and `bt` carries on from there (`frame N`
and `info registers` there show the interrupted state). Which frames are a
trap's, and where their registers are, is trap_frames.py's (beside this
file; `rrvm dap` unwinds with it too).
"""

from __future__ import annotations

import os
import sys

import gdb
from gdb.unwinder import Unwinder, register_unwinder

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trap_frames import REGISTER_NAMES, TrapFrames  # noqa: E402  (gdb's Python: no rr package)


class _FrameId:
    """What gdb identifies a frame by: its stack address and its function's start (gdb wants
    both as gdb.Value)."""

    def __init__(self, sp: gdb.Value, pc: int) -> None:
        self.sp = sp
        self.pc = gdb.Value(pc).cast(sp.type)


def _address_of(name: str) -> int | None:
    try:
        return int(gdb.parse_and_eval(f"(unsigned long) &{name}"))
    except gdb.error:
        return None


def _read_memory(address: int, size: int) -> bytes:
    return bytes(gdb.selected_inferior().read_memory(address, size))


class TrapFrameUnwinder(Unwinder):
    def __init__(self) -> None:
        super().__init__("rrvm-trap-frame")
        self._frames: TrapFrames | None = None

    def forget_symbols(self, _event: object = None) -> None:
        """New symbols were loaded: look the addresses up again at the next unwind."""
        self._frames = None

    def __call__(self, pending_frame: "gdb.PendingFrame"):
        if self._frames is None:
            self._frames = TrapFrames(_address_of)
        pc = int(pending_frame.read_register("pc"))
        code = self._frames.interrupted(
            pc, pending_frame.level() == 0,
            lambda name: int(pending_frame.read_register(name)), _read_memory)
        if code is None:
            return None
        sp = pending_frame.read_register("sp")
        info = pending_frame.create_unwind_info(_FrameId(sp, pc))
        for number, value in code.registers.items():
            info.add_saved_register(REGISTER_NAMES[number], gdb.Value(value).cast(sp.type))
        info.add_saved_register("pc", gdb.Value(code.pc).cast(sp.type))
        return info


TRAP_FRAME_UNWINDER = TrapFrameUnwinder()
register_unwinder(None, TRAP_FRAME_UNWINDER, replace=True)
gdb.events.new_objfile.connect(TRAP_FRAME_UNWINDER.forget_symbols)
