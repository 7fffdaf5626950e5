"""Helpers shared by the time-travel tests: recording traces once, straight replays, snapshots.

Not a conftest.py on purpose (a second conftest module would shadow
``from conftest import ...`` in the other test folders). Test modules wrap
the recording functions in their own fixtures; the recordings themselves are
made once per pytest session (cached here, written under tmp_path_factory).
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable

import pytest

from rr.log.trace_reader import TraceReader
from rr.monitor.state_digest import register_state, state_digest
from rr.replay.checkpoint_index import open_index
from rr.replay.replay_session import ReplaySession
from rr.replay.timeline import Timeline
from conftest import rewrite  # noqa: F401 - shared with tests/test_record_replay.py

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "guests" / "bin"
RRVM = [sys.executable, "-m", "rr"]
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
# Stop autoboot, two commands, power off: about 15-30 M instructions (virtual clock).
UBOOT_INPUT = b" \nversion\ncrc32 80200000 1000\npoweroff\n"
TIMEOUT = 120


@dataclasses.dataclass(frozen=True)
class Recorded:
    trace: Path
    stdout: bytes            # the guest's console output as the recorder printed it
    status: int

    def reader(self) -> TraceReader:
        return TraceReader(self.trace)

    @property
    def final_icount(self) -> int:
        with self.reader() as reader:
            return reader.footer.final_icount


_recordings: dict[str, Recorded] = {}


def record(trace: Path, guest: Path | str, stdin: bytes = b"", *options: str) -> Recorded:
    """`python -m rr record GUEST -o TRACE` in a fresh process."""
    proc = subprocess.run([*RRVM, "record", str(guest), *options, "-o", str(trace)], cwd=REPO,
                          input=stdin, capture_output=True, timeout=TIMEOUT)
    assert trace.is_file(), proc.stderr.decode(errors="replace")
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return Recorded(trace, proc.stdout, proc.returncode)


def _cached(key: str, tmp_path_factory, make) -> Recorded:
    if key not in _recordings:
        _recordings[key] = make(tmp_path_factory.mktemp(key) / f"{key}.rrt")
    return _recordings[key]


def uboot_recording(tmp_path_factory) -> Recorded:
    """Debian's U-Boot with piped commands (skips when the package is not installed)."""
    if not UBOOT.is_file():
        pytest.skip(f"{UBOOT} not found (install Debian's u-boot-qemu package)")

    def make(trace: Path) -> Recorded:
        rec = record(trace, UBOOT, UBOOT_INPUT)
        assert rec.status == 0, rec.stdout[-500:]
        assert b"poweroff ..." in rec.stdout
        return rec

    rec = _cached("uboot", tmp_path_factory, make)
    assert rec.final_icount >= 10_000_000, "the U-Boot session is too short for these tests"
    return rec


def demo_recording(tmp_path_factory) -> Recorded:
    """guests/bin/demo.elf (its length depends on the RTC seed: crash or clean run)."""
    return _cached("demo", tmp_path_factory, lambda trace: record(trace, BIN / "demo.elf"))


def paging_recording(tmp_path_factory) -> Recorded:
    """guests/bin/paging.elf: an Sv39 kernel running a user program at 0x400000."""
    return _cached("paging", tmp_path_factory, lambda trace: record(trace, BIN / "paging.elf"))


def virtio_recording(tmp_path_factory) -> Recorded:
    """guests/bin/virtio.elf on a copy of its disk, with virtio-rng, in 16 MiB of RAM
    (quick snapshots): disk reads, a disk write and entropy, all by DMA."""
    guest, disk = BIN / "virtio.elf", BIN / "virtio-disk.img"
    if not guest.is_file() or not disk.is_file():
        pytest.skip("guests/bin/virtio.elf or virtio-disk.img not built (make -C guests)")

    def make(trace: Path) -> Recorded:
        copy = shutil.copy(disk, trace.parent / "disk.img")
        rec = record(trace, guest, b"", "--disk", str(copy), "--rng", "--mem", "16M")
        assert rec.status == 0 and b"boot count 0 -> 1" in rec.stdout, rec.stdout
        return rec
    return _cached("virtio", tmp_path_factory, make)


# --- replays ---------------------------------------------------------------------------------

def open_session(trace: Path, sink=None) -> ReplaySession:
    return ReplaySession(TraceReader(trace), sink if sink is not None else (lambda data: None))


def ram_digest(board) -> str:
    return hashlib.sha1(board.ram.map).hexdigest()


def snapshot(board, ram: bool = True) -> dict:
    """What the guest can observe at this position (RAM as a digest)."""
    state = {"icount": board.cpu.icount, "regs": register_state(board),
             "devices": board.get_state()}
    if ram:
        state["ram"] = ram_digest(board)
    return state


def digests_through_random_stops(session, targets, rng, max_step: int) -> dict[int, str]:
    """State digests at each of ``targets`` (ascending), reached by runs that stop at
    random positions up to ``max_step`` apart on the way."""
    digests, position = {}, session.board.cpu.icount
    for target in targets:
        while position < target:
            position = min(target, position + rng.randrange(1, max_step))
            session.loop.run(position)
            assert session.board.cpu.icount == position
        digests[target] = state_digest(session.board)
    return digests


def straight_snapshots(trace: Path, positions: Iterable[int], ram: bool = True) -> dict[int, dict]:
    """Snapshots at each position from one plain forward replay (no timeline, no checkpoints)."""
    session = open_session(trace)
    result = {}
    for position in sorted(set(positions)):
        session.loop.run(position)
        assert session.board.cpu.icount == position, (position, session.board.cpu.icount)
        result[position] = snapshot(session.board, ram)
    return result


def straight_digests(trace: Path, positions: Iterable[int]) -> dict[int, str]:
    """The state digest (every hart) at each position from one plain forward replay."""
    session = open_session(trace)
    result = {}
    for position in sorted(set(positions)):
        session.loop.run(position)
        result[position] = state_digest(session.board)
    return result


def digests_through_index(trace: Path, positions: Iterable[int]) -> tuple[dict[int, str], int]:
    """State digests at each position, reached by seeks through the trace's index in a
    session that never replayed from 0 (any index warning fails the test), and how many
    of the index's checkpoints were restored and checked."""
    index = open_index(TraceReader(trace), pytest.fail)
    timeline = Timeline(open_session(trace), index=index, warn=pytest.fail)
    seen = {}
    for position in positions:
        assert timeline.seek(position) == position
        seen[position] = state_digest(timeline.board)
    return seen, len(index.verified)


def search_then_seek(timeline, positions: Iterable[int], watch, rng, state_of, expected) -> None:
    """For each position: a search for ``watch`` forward or backward (drawn from ``rng``),
    then a seek there; ``state_of(board)`` must then be ``expected[position]`` (a
    search must leave nothing behind that a seek keeps)."""
    for position in positions:
        if rng.random() < 0.5:
            timeline.run_forward(watchpoints=[watch])
        else:
            timeline.run_backward(watchpoints=[watch])
        timeline.seek(position)
        state = state_of(timeline.board)
        assert state == expected[position], position


def fresh_snapshot(trace: Path, position: int, ram: bool = True) -> dict:
    """A snapshot after one uninterrupted replay from the start in a new session."""
    session = open_session(trace)
    session.loop.run(position)
    assert session.board.cpu.icount == position
    return snapshot(session.board, ram)


def assert_same_states_with(trace: Path, positions: Iterable[int], make_collector):
    """Replay ``trace`` straight with the collector ``make_collector(board)`` set from the
    start and check the state at each position against a plain straight replay (hooks
    only note: a run with them is the same run). Returns the session, the collector
    removed."""
    positions = sorted(set(positions))
    expected = straight_snapshots(trace, positions)
    session = open_session(trace)
    collector = make_collector(session.board)
    try:
        for position in positions:
            session.loop.run(position)
            state = snapshot(session.board)
            assert state == expected[position], differences(state, expected[position])
    finally:
        collector.remove()
    return session, collector


def differences(actual: dict, expected: dict) -> str:
    """A short account of what differs between two snapshots."""
    lines = []
    for key in ("icount", "ram"):
        if actual.get(key) != expected.get(key):
            lines.append(f"{key}: {actual.get(key)!r:.200} != {expected.get(key)!r:.200}")
    lines += _deep_differences("devices", actual.get("devices"), expected.get("devices"))
    regs, want = actual["regs"], expected["regs"]
    for name in ("pc", "priv"):
        if regs[name] != want[name]:
            lines.append(f"{name}: {regs[name]:#x} != {want[name]:#x}")
    for bank in ("x", "f"):
        for n, (a, b) in enumerate(zip(regs[bank], want[bank])):
            if a != b:
                lines.append(f"{bank}{n}: {a:#x} != {b:#x}")
    for name, value in regs["csr"].items():
        if value != want["csr"][name]:
            lines.append(f"{name}: {value:#x} != {want['csr'][name]:#x}")
    return "; ".join(lines)


def _deep_differences(path: str, a, b) -> list[str]:
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        return [line for key in sorted(set(a) | set(b), key=str)
                for line in _deep_differences(f"{path}.{key}", a.get(key), b.get(key))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [line for i, (x, y) in enumerate(zip(a, b))
                for line in _deep_differences(f"{path}[{i}]", x, y)]
    return [f"{path}: {a!r:.200} != {b!r:.200}"]


# --- guest symbols ---------------------------------------------------------------------------

def elf_symbol(elf: Path, name: str) -> int:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        symbols = symtab.get_symbol_by_name(name) if symtab is not None else None
        if not symbols:
            raise LookupError(f"{elf} has no symbol {name!r}")
        return symbols[0]["st_value"]
