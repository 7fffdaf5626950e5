"""Time reads: the decode of a trapping instruction is remembered per instruction word.

Linux's udelay/mdelay loop (and its panic loop) traps on rdtime every few
instructions; decoding the word again each time was a fifth of the trap's cost.
"""

from __future__ import annotations

from board_fixture import make_board

from rr.monitor import counters
from rr.monitor.counters import DECODE_CACHE_LIMIT
from rr.monitor.run_loop import RunLoop

ENTRY = 0x8020_0000
RDTIME_A0 = 0xC0102573          # rdtime a0
RDTIME_A1 = 0xC01025F3          # rdtime a1
RDCYCLE_A0 = 0xC0002573         # rdcycle a0 (not emulated: unicorn answers it itself)
CSRW_TIME_A0 = 0xC0151073       # csrw time, a0: a write, never emulated as a read


def asm(*words: int) -> bytes:
    return b"".join(w.to_bytes(4, "little") for w in words)


def counting_decoder(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = counters.decode_counter_read

    def spy(insn, length):
        calls.append(insn)
        return real(insn, length)
    monkeypatch.setattr(counters, "decode_counter_read", spy)
    return calls


def test_a_time_read_loop_decodes_each_word_once(monkeypatch):
    calls = counting_decoder(monkeypatch)
    # rdtime a0; rdtime a1; j -8 : the shape of a delay loop
    board, _ = make_board(asm(RDTIME_A0, RDTIME_A1, 0xFF9FF06F))
    RunLoop(board).run_until(30)
    cpu = board.cpu
    # The native engine answers S-mode time reads without the monitor.
    expected = [] if cpu.engine.name == "native" else [RDTIME_A0, RDTIME_A1]
    assert sorted(calls) == expected
    # 30 instructions are ten turns: the last turn read time at instructions
    # 27 and 28 (one tick per instruction) and jumped back.
    assert (cpu.x(10), cpu.x(11)) == (27, 28)
    assert cpu.pc == ENTRY


def test_cached_answer_per_instruction_word_and_length(monkeypatch):
    calls = counting_decoder(monkeypatch)
    board, _ = make_board()
    emulator = board.traps.counters
    for _ in range(3):
        assert emulator.time_read_rd(RDTIME_A0, 4) == 10
        assert emulator.time_read_rd(RDTIME_A1, 4) == 11
        assert emulator.time_read_rd(RDCYCLE_A0, 4) is None       # another counter
        assert emulator.time_read_rd(CSRW_TIME_A0, 4) is None     # a write
        assert emulator.time_read_rd(RDTIME_A0 & 0xFFFF, 2) is None
    assert len(calls) == 5


def test_not_a_time_read_is_left_to_the_trap_handler():
    board, _ = make_board()
    cpu = board.cpu
    emulator = board.traps.counters
    pc = cpu.pc
    for _ in range(2):                       # the second answer comes from the cache
        assert not emulator.try_emulate(RDCYCLE_A0, 4, pc, cpu.priv)
        assert cpu.pc == pc


def test_the_cache_stays_bounded():
    board, _ = make_board()
    emulator = board.traps.counters
    for n in range(DECODE_CACHE_LIMIT + 10):
        emulator.time_read_rd(0x0000_0073 | (n << 20), 4)      # distinct SYSTEM words
    assert len(emulator._time_reads) <= DECODE_CACHE_LIMIT
    assert emulator.time_read_rd(RDTIME_A0, 4) == 10
