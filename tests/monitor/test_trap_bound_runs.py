"""Guests that trap and trap: the run loop stays in hand and stays deterministic.

A guest trapping on every instruction (guests/hostile/trapstorm.c) keeps the
hart inside the trap hook for seconds per epoch, so the hook gives the run
back to the loop every so often (``TrapHandler.on_many_traps``) and the loop
polls for the user's interrupt between runs (rr/monitor/run_loop.py). Those
extra stops land at traps, positions the random stops of
tests/monitor/test_determinism.py never pick: here every trap is one, on both
engines, and the runs must not differ. A guest whose trap handler cannot be
fetched (guests/hostile/nomap.c) completes no instruction again: it ends with
one clear fault, at the same position on both engines.
"""

from __future__ import annotations

import random

import pytest

from rr.errors import GuestFault, InstructionLimit
from rr.monitor import run_loop, traps
from rr.monitor.constants import STUCK_TRAPS
from rr.monitor.run_loop import RunLoop
from rr.monitor.state_digest import state_digest

from conftest import ENGINES
from test_determinism import GUESTS, make_board

STORM_INSNS = 30_000            # the trap storm's budget: ~20,000 traps after the boot
VECTORS = {"trapstorm": "storm_vector"}     # stvec, where not the common trap_entry


def symbol(guest: str, name: str) -> int:
    from elftools.elf.elffile import ELFFile

    with open(GUESTS / f"{guest}.elf", "rb") as f:
        return ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]["st_value"]


def trap_entries(board, guest: str) -> list[tuple[int, int]]:
    """(instruction count, scause) of every entry into the guest's trap vector."""
    from unicorn import UC_HOOK_CODE

    address = symbol(guest, VECTORS.get(guest, "trap_entry"))
    entries: list[tuple[int, int]] = []

    def on_entry(_uc, _address, _size, _user):
        entries.append((board.cpu.icount_in_hook(), board.cpu.csr("scause")))
    board.cpu.uc.hook_add(UC_HOOK_CODE, on_entry, begin=address, end=address)
    return entries


def _finish(loop: RunLoop):
    try:
        return loop.run_until(None)
    except (GuestFault, InstructionLimit) as error:
        return str(error)


def run_guest(guest: str, max_insns: int | None, stop_at_traps: random.Random | None,
              give_back: random.Random | None = None):
    """(end, icount, digest, output, trap entries) of one run; ``stop_at_traps``: end
    the hart's run at a random half of all traps; ``give_back``: the loop polls between
    every two runs and is given back at random (as a debugger's interrupt would)."""
    output: list[bytes] = []
    board = make_board(guest, output)
    seen = trap_entries(board, guest)
    loop = RunLoop(board, max_insns)
    if stop_at_traps is not None:
        board.traps.on_many_traps = lambda: stop_at_traps.random() < 0.5 and board.replan()
    if give_back is None:
        end = _finish(loop)
    else:
        loop.idle_poll = lambda: give_back.random() < 0.3
        while (end := _finish(loop)) is None:
            pass
    return end, board.cpu.icount, state_digest(board), b"".join(output), seen


@pytest.mark.parametrize("guest,max_insns", [("trapstorm", STORM_INSNS), ("paging", None),
                                             ("demo", 1_500_000)])
def test_stops_at_traps_do_not_change_the_run(engine, monkeypatch, guest, max_insns):
    reference = run_guest(guest, max_insns, None)
    assert len(reference[4]) > 5, "the guest should trap"
    monkeypatch.setattr(traps, "TRAP_CHECK_EVERY", 1)
    assert run_guest(guest, max_insns, random.Random(guest)) == reference


def test_giving_the_run_back_between_runs_does_not_change_it(engine, monkeypatch):
    reference = run_guest("trapstorm", STORM_INSNS, None)
    monkeypatch.setattr(traps, "TRAP_CHECK_EVERY", 7)
    monkeypatch.setattr(run_loop, "POLL_SECONDS", 0.0)
    assert run_guest("trapstorm", STORM_INSNS, None, random.Random(3)) == reference


def test_the_trap_storm_is_bounded_by_the_instruction_limit(engine):
    end, icount, *_rest, entries = run_guest("trapstorm", STORM_INSNS, None)
    assert icount == STORM_INSNS
    assert end.startswith(f"stopped after {STORM_INSNS} instructions (--max-insns)")
    assert len(entries) > STORM_INSNS // 2       # nearly every instruction traps


def test_a_hart_that_can_never_go_on_stops_with_one_fault():
    results = {}
    for engine in ENGINES:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("RRVM_ENGINE", engine)
            results[engine] = run_guest("nomap", None, None)[:4]
    assert results["native"] == results["hook"]
    end, icount, _digest, output = results["native"]
    assert output.endswith(b"nomap: paging on with an empty root table\r\n")
    vector = symbol("nomap", "trap_entry")     # stvec: its fetch faults, as every fetch now
    assert end == (f"guest is stuck: instruction page fault (cause 12) at pc {vector:#x} (stval "
                   f"{vector:#x}) in S-mode goes to stvec {vector:#x}, which takes the same trap "
                   f"again, {STUCK_TRAPS} times without completing an instruction, after "
                   f"{icount} instructions")
