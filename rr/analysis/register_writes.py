"""The last instruction before a position that wrote a general register.

Registers have no watchpoints, so this is found by executing: windows of
history are replayed backwards from the position (1,024 instructions, then
eight times more each time, up to MAX_WINDOW) with a code hook on every
instruction that only notes (icount, pc); the last noted instruction that
writes the register, by its semantics (rr.analysis.semantics), is the
answer. The hook costs about 1.7 us an instruction against 0.05 us without it
(the demo's 322,554 instructions: 0.56 s against 0.016 s, native engine), so
a write 100 instructions back is found in a few milliseconds and one a
million back in a few seconds. One window is one seek to its start and one
hooked run to its end: no instruction is executed twice within a search.

An instruction noted twice at the same count did not retire the first time
(it trapped, and the handler's first instruction carries the same count);
only the retired one counts. An ecall writes a0 and a1 when the SBI answered
it, that is when the next instruction is the one after it.

Instructions are decoded from memory as mapped at the end of each window,
and the writer found is decoded again at its own position: code that
changed (another process mapped at the same address) is then noticed.
"""

from __future__ import annotations

from dataclasses import dataclass

from unicorn import UC_HOOK_CODE

from rr.analysis.semantics import Effect, Semantics, semantics
from rr.monitor.mmu import PageFault
from rr.monitor.riscv import insn_length
from rr.replay.cancellation import Cancellation
from rr.replay.timeline import Timeline

FIRST_WINDOW = 1024
WINDOW_GROWTH = 8
MAX_WINDOW = 4_000_000


@dataclass(frozen=True)
class RegisterWrite:
    icount: int                  # the instruction, before it executes
    pc: int
    raw: bytes
    semantics: Semantics


def instruction_at(timeline: Timeline, pc: int) -> bytes | None:
    """The instruction's bytes at ``pc`` as mapped now (None: unreadable)."""
    memory = timeline.board.memory
    first = memory.try_read(pc, 2)
    if first is None:
        return None
    return memory.try_read(pc, insn_length(int.from_bytes(first, "little")))


def last_register_write(timeline: Timeline, register: int, before: int,
                        cancel: Cancellation | None = None) -> RegisterWrite | None:
    """The last instruction before position ``before`` that wrote x``register`` (None: none
    since the start of history). The timeline is left somewhere in between: callers seek."""
    high, window = before, FIRST_WINDOW
    while high > timeline.begin:
        low = max(timeline.begin, high - window)
        executed = executed_pcs(timeline, low, high, cancel)
        found = _last_writer(timeline, executed, register)
        if found is not None:
            return found
        high, window = low, min(window * WINDOW_GROWTH, MAX_WINDOW)
    return None


def executed_pcs(timeline: Timeline, low: int, high: int,
              cancel: Cancellation | None) -> list[tuple[int, int]]:
    """(icount, pc) of every instruction started in [low, high), and (high, pc) at the end."""
    timeline.seek(low, cancel)
    timeline.keep_checkpoint()          # the writer found in the window is visited next
    board = timeline.board
    cpu = board.cpu
    noted: list[tuple[int, int]] = []

    def note(_uc, address: int, _size: int, _user) -> None:
        if board.cpu is cpu:                # the harts share the engine, and its hooks
            noted.append((cpu.icount_in_hook(), address))

    handle = cpu.uc.hook_add(UC_HOOK_CODE, note, begin=1, end=0)
    cpu.invalidate_caches()             # hooks do not apply to code translated before them
    # Positions in the hook come from the engine's copy of each block: decoding the block
    # from guest memory in a hook on every instruction made Linux's replay diverge in its
    # first 100,000 instructions (docs/analyses.md).
    cpu.memory_hooks_set(True)
    try:
        timeline.execute_to(high, cancel)
    finally:
        cpu.memory_hooks_set(False)
        cpu.uc.hook_del(handle)
        cpu.invalidate_caches()
    noted = [entry for entry in noted if entry[0] < high]
    noted.append((timeline.position, cpu.pc))
    return noted


def _last_writer(timeline: Timeline, executed: list[tuple[int, int]],
                 register: int) -> RegisterWrite | None:
    decoded: dict[int, bytes | None] = {}
    for index in range(len(executed) - 2, -1, -1):
        icount, pc = executed[index]
        following = executed[index + 1]
        if following[0] == icount:
            continue                             # trapped: did not retire
        if pc not in decoded:
            decoded[pc] = instruction_at(timeline, pc)
        raw = decoded[pc]
        if raw is None or not _writes(semantics(raw), register, pc, len(raw), following[1]):
            continue
        found = _confirmed(timeline, icount, pc, register, following[1])
        if found is not None:
            return found
    return None


def _writes(meaning: Semantics, register: int, pc: int, size: int, next_pc: int) -> bool:
    if meaning.effect is Effect.ECALL:
        return meaning.writes(register) and next_pc == pc + size
    return meaning.writes(register)


def _confirmed(timeline: Timeline, icount: int, pc: int, register: int,
               next_pc: int) -> RegisterWrite | None:
    """The write at ``icount``, decoded from memory as it was then (None: it is not one)."""
    timeline.seek(icount)
    try:
        raw = instruction_at(timeline, pc)
    except PageFault:
        raw = None
    if raw is None:
        return None
    meaning = semantics(raw)
    if not _writes(meaning, register, pc, len(raw), next_pc):
        return None
    return RegisterWrite(icount, pc, raw, meaning)
