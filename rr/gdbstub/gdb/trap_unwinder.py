"""A gdb unwinder that walks out of a RISC-V trap handler into the interrupted code.

Load it in gdb-multiarch (it needs nothing but gdb's own Python):

    (gdb) source rr/gdbstub/gdb/trap_unwinder.py

Without it, `bt` inside a trap handler ends at the assembly that saved the
interrupted registers (gdb has no call frame information for it and cannot
know that the caller is whatever `sepc` pointed at). With it, the frame of
that assembly is unwound from the registers it saved: the next frame is the
interrupted code, at the saved `sepc`, with its own registers, and `bt`
carries on from there (`frame N` and `info registers` there show the
interrupted state).

It knows two layouts, both keeping x1..x31 at 8 * n bytes from the frame
(the stack pointer of the frame whose pc is the address the handler
returns to):

- rrvm's own guests (guests/common/trap.S): the C handler returns to
  `trap_return`; `sepc` is saved at 256 (`struct trapframe`);
- Linux 6.1 (arch/riscv/kernel/entry.S): handlers return to
  `ret_from_exception`, system calls to `ret_from_syscall`; `sepc` is saved
  at 0 (`struct pt_regs`).

Stopped at the first instruction of the trap entry (`trap_entry`,
`handle_exception`), nothing is saved yet: the interrupted code's registers
are the current ones and its pc is `sepc`.
"""

from __future__ import annotations

import gdb
from gdb.unwinder import Unwinder, register_unwinder

XLEN_BYTES = 8
# Return address of the C handler -> offset of the saved sepc in the frame at sp.
SAVED_FRAMES = {
    "trap_return": 32 * XLEN_BYTES,         # guests/common/trap.S, struct trapframe
    "ret_from_exception": 0,                # Linux, struct pt_regs
    "ret_from_syscall": 0,
}
# First instructions of trap entries: nothing saved yet.
TRAP_ENTRIES = ("trap_entry", "handle_exception")
REGISTER_NAMES = ("zero ra sp gp tp t0 t1 t2 fp s1 a0 a1 a2 a3 a4 a5 a6 a7 "
                  "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()


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


class TrapFrameUnwinder(Unwinder):
    def __init__(self) -> None:
        super().__init__("rrvm-trap-frame")
        self._saved: dict[int, int] | None = None      # return address -> sepc offset
        self._entries: set[int] = set()

    def forget_symbols(self, _event: object = None) -> None:
        """New symbols were loaded: look the addresses up again at the next unwind."""
        self._saved = None

    def _learn_symbols(self) -> None:
        self._saved = {}
        for name, offset in SAVED_FRAMES.items():
            address = _address_of(name)
            if address is not None:
                self._saved[address] = offset
        self._entries = {a for a in map(_address_of, TRAP_ENTRIES) if a is not None}

    def __call__(self, pending_frame: "gdb.PendingFrame"):
        if self._saved is None:
            self._learn_symbols()
        pc = int(pending_frame.read_register("pc"))
        if pc in self._saved:
            return self._from_saved_frame(pending_frame, pc, self._saved[pc])
        if pc in self._entries and pending_frame.level() == 0:
            return self._at_entry(pending_frame, pc)
        return None

    def _from_saved_frame(self, pending_frame: "gdb.PendingFrame", pc: int, sepc_at: int):
        sp = pending_frame.read_register("sp")
        size = max(32 * XLEN_BYTES, sepc_at + XLEN_BYTES)
        saved = bytes(gdb.selected_inferior().read_memory(int(sp), size))
        value_type = sp.type

        def word(offset: int) -> gdb.Value:
            raw = int.from_bytes(saved[offset:offset + XLEN_BYTES], "little")
            return gdb.Value(raw).cast(value_type)

        info = pending_frame.create_unwind_info(_FrameId(sp, pc))
        for n in range(1, 32):
            info.add_saved_register(REGISTER_NAMES[n], word(n * XLEN_BYTES))
        info.add_saved_register("pc", word(sepc_at))
        return info

    def _at_entry(self, pending_frame: "gdb.PendingFrame", pc: int):
        sp = pending_frame.read_register("sp")
        info = pending_frame.create_unwind_info(_FrameId(sp, pc))
        for name in REGISTER_NAMES[1:]:
            info.add_saved_register(name, pending_frame.read_register(name))
        info.add_saved_register("pc", pending_frame.read_register("sepc"))
        return info


TRAP_FRAME_UNWINDER = TrapFrameUnwinder()
register_unwinder(None, TRAP_FRAME_UNWINDER, replace=True)
gdb.events.new_objfile.connect(TRAP_FRAME_UNWINDER.forget_symbols)
