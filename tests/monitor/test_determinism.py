"""The guard of determinism (docs/unicorn-facts.md, "Interrupt timing").

The same guest, run straight through and run with extra stops at random
instruction counts, must reach the same final state at the same instruction
count, and take its interrupts at the same instructions. The demo guest
switches tasks on timer interrupts and its crash depends on exactly where
they land, so it is the sharpest test we have.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rr.monitor.board import Board, BootPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.inputs import InputSource
from rr.monitor.loader import load_image
from rr.monitor.run_loop import RunLoop
from rr.monitor.state_digest import state_digest

GUESTS = Path(__file__).resolve().parents[2] / "guests" / "bin"
FIXED_WALL_NS = 1_700_000_000_123_456_789


class FixedInputs(InputSource):
    """No console, a fixed wall clock: a run that must be the same every time."""

    def __init__(self, console: bytes = b"") -> None:
        self.pending = console

    def console_bytes(self, icount, max_bytes):
        data, self.pending = self.pending[:max_bytes], self.pending[max_bytes:]
        return data

    def wait_console(self, timeout):
        pass

    def host_time_ns(self, icount):
        return 0

    def wall_time_ns(self, icount):
        return FIXED_WALL_NS

    def entropy(self, icount, size):
        return bytes(size)

    def quit_requested(self, icount):
        return False

    def console_closed(self, icount):
        return not self.pending


def make_board(guest: str, output: list, console: bytes = b"") -> Board:
    image = load_image(str(GUESTS / f"{guest}.elf"))
    return Board(BoardConfig(), BootPayload(image), FixedInputs(console), output.append)


def trap_entries(board: Board, elf: Path) -> list[tuple[int, int]]:
    """(instruction count, scause) of every entry into the guest's trap vector,
    interrupts taken natively by the CPU included."""
    from elftools.elf.elffile import ELFFile
    from unicorn import UC_HOOK_CODE

    with open(elf, "rb") as f:
        vector = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name("trap_entry")[0]
    address = vector["st_value"]
    entries: list[tuple[int, int]] = []

    def on_entry(_uc, _address, _size, _user):
        entries.append((board.cpu.icount_in_hook(), board.cpu.csr("scause")))
    board.cpu.uc.hook_add(UC_HOOK_CODE, on_entry, begin=address, end=address)
    return entries


def run_with_stops(guest: str, stops: list[int], console: bytes = b""):
    output: list[bytes] = []
    board = make_board(guest, output, console)
    loop = RunLoop(board)
    for stop in sorted(stops):
        if loop.run_until(stop) is not None:
            break
    exit_ = loop.run_until(None)
    return exit_, board.cpu.icount, state_digest(board), b"".join(output)


@pytest.mark.parametrize("guest", ["timer", "demo", "paging"])
def test_random_stops_do_not_change_the_run(guest):
    if not (GUESTS / f"{guest}.elf").exists():
        pytest.skip(f"guests/bin/{guest}.elf not built")
    reference = run_with_stops(guest, [])
    rng = random.Random(guest)
    end = reference[1]
    for count in (7, 300):
        stops = [rng.randrange(1, end) for _ in range(count)]
        assert run_with_stops(guest, stops) == reference


def test_interrupt_positions_are_identical_under_stops():
    """Not only the end state: every trap enters at the same instruction."""
    if not (GUESTS / "demo.elf").exists():
        pytest.skip("guests/bin/demo.elf not built")
    positions = []
    for stops in ([], random.Random(1).sample(range(1, 2_000_000), 500)):
        board = make_board("demo", [])
        seen = trap_entries(board, GUESTS / "demo.elf")
        loop = RunLoop(board)
        for stop in sorted(stops):
            if loop.run_until(stop) is not None:
                break
        loop.run_until(None)
        positions.append(seen)
    interrupts = [entry for entry in positions[0] if entry[1] >> 63]
    assert len(interrupts) >= 3, "the demo should be preempted by timer interrupts"
    assert positions[0] == positions[1]


def test_console_input_lands_at_the_same_instruction():
    if not (GUESTS / "echo.elf").exists():
        pytest.skip("guests/bin/echo.elf not built")
    reference = run_with_stops("echo", [], b"hello\nquit\n")
    assert b"echo: hello" in reference[3]
    stops = random.Random(5).sample(range(1, reference[1]), 200)
    assert run_with_stops("echo", stops, b"hello\nquit\n") == reference


class CountingInputs(FixedInputs):
    """Counts the monitor's requests for outside input: each may be logged when recording."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def host_time_ns(self, icount):
        self.requests += 1
        return self.requests * 1_000_000        # time passes 1 ms per read, idle or not

    def console_bytes(self, icount, max_bytes):
        self.requests += 1
        return super().console_bytes(icount, max_bytes)


def test_stopping_at_an_epoch_boundary_does_not_service_it_twice():
    """A debugger stop at an epoch boundary must not add inputs a straight run does not take."""
    if not (GUESTS / "demo.elf").exists():
        pytest.skip("guests/bin/demo.elf not built")
    from rr.monitor.constants import DEFAULT_EPOCH_INSNS
    counts = []
    for stops in ([], [DEFAULT_EPOCH_INSNS * k for k in range(1, 6)] * 2):
        inputs = CountingInputs()
        board = Board(BoardConfig(clock="host"), BootPayload(load_image(str(GUESTS / "demo.elf"))),
                      inputs, lambda data: None)
        loop = RunLoop(board)
        for stop in stops:
            loop.run_until(stop)
        loop.run_until(None)
        counts.append(inputs.requests)
    assert counts[0] == counts[1]


class SteppingClockInputs(CountingInputs):
    """A host clock that advances 50 us per read, so the guest's timers expire."""

    def host_time_ns(self, icount):
        return super().host_time_ns(icount) // 20


def run_host_clock_demo(epoch: int, stops: list[int]):
    """The demo on a host clock stepping with each read: timers are checked at
    epoch boundaries, so the epoch decides where its interrupts land."""
    inputs = SteppingClockInputs()
    board = Board(BoardConfig(clock="host", epoch_insns=epoch),
                  BootPayload(load_image(str(GUESTS / "demo.elf"))), inputs, lambda data: None)
    loop = RunLoop(board)
    for stop in sorted(stops):
        if loop.run_until(stop) is not None:
            break
    exit_ = loop.run_until(None)
    return exit_, board.cpu.icount, state_digest(board), inputs.requests


@pytest.mark.parametrize("epoch", [1_000, 7_000, 20_000, 200_000])
def test_random_stops_do_not_change_the_run_at_any_epoch(epoch):
    """Straight and through random stops, the same end state for every epoch size."""
    if not (GUESTS / "demo.elf").exists():
        pytest.skip("guests/bin/demo.elf not built")
    reference = run_host_clock_demo(epoch, [])
    rng = random.Random(epoch)
    for count in (10, 200):
        stops = [rng.randrange(1, reference[1]) for _ in range(count)]
        stops += [epoch * rng.randrange(1, 1 + reference[1] // epoch) for _ in range(5)]
        assert run_host_clock_demo(epoch, stops) == reference


def test_the_epoch_moves_the_run():
    """Why a trace records its epoch: the same inputs with another epoch give another run."""
    if not (GUESTS / "demo.elf").exists():
        pytest.skip("guests/bin/demo.elf not built")
    assert run_host_clock_demo(7_000, [])[1:3] != run_host_clock_demo(20_000, [])[1:3]
