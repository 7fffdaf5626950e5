"""virtio-blk and virtio-rng wired into the board: slots, interrupts, state, determinism.

The bundled ``virtio`` guest (guests/virtio/virtio.c) drives both devices
through the PLIC on a board built in this process; its console output must be
guests/expected/virtio.out, and the run must not depend on where it is
stopped and resumed (the guard of docs/unicorn-facts.md, "Interrupt timing").
Board state (checkpoints, the final state hash) must carry the disk's overlay.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from pathlib import Path

import pytest

from rr.log.header import TraceHeader
from rr.monitor.board import Board, BootPayload
from rr.monitor.board_config import BoardConfig, BoardConfigError, DiskConfig
from rr.monitor.constants import (
    VIRTIO_BASE, VIRTIO_COUNT, VIRTIO_ID_BLOCK, VIRTIO_ID_NONE, VIRTIO_ID_RNG,
    VIRTIO_MMIO_DEVICE_ID, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_DRIVER_OK, VIRTIO_STRIDE,
)
from rr.monitor.devices.virtio_blk import VirtioBlk
from rr.monitor.devices.virtio_rng import VirtioRng
from rr.monitor.disk_image import DiskError, DiskImage, open_disk, open_recorded_disk
from rr.monitor.loader import load_image, parse_image
from rr.monitor.run_loop import RunLoop
from rr.monitor.state_digest import state_digest

from board_fixture import SPIN
from test_determinism import FixedInputs

ROOT = Path(__file__).resolve().parents[2]
GUEST = ROOT / "guests" / "bin" / "virtio.elf"
DISK = ROOT / "guests" / "bin" / "virtio-disk.img"
EXPECTED = ROOT / "guests" / "expected" / "virtio.out"
SECTOR = 512


class EntropyInputs(FixedInputs):
    """FixedInputs with entropy that depends on where it is asked for (and is never zero)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[int, int]] = []

    def entropy(self, icount, size):
        self.asked.append((icount, size))
        return hashlib.sha256(icount.to_bytes(8, "little")).digest()[:size].rjust(size, b"\1")


@pytest.fixture
def disk_copy(tmp_path) -> Path:
    if not DISK.is_file():
        pytest.skip("guests/bin/virtio-disk.img not built (make -C guests)")
    return Path(shutil.copy(DISK, tmp_path / "disk.img"))


def spin_board(disk: DiskImage | None = None, rng: bool = False) -> Board:
    return Board(BoardConfig(virtio_rng=rng), BootPayload(parse_image("spin", SPIN), disk=disk),
                 EntropyInputs(), lambda data: None)


def guest_board(disk_path: Path, rng: bool = True, inputs=None) -> tuple[Board, list[bytes]]:
    if not GUEST.is_file():
        pytest.skip("guests/bin/virtio.elf not built (make -C guests)")
    output: list[bytes] = []
    board = Board(BoardConfig(virtio_rng=rng),
                  BootPayload(load_image(str(GUEST)), disk=open_disk(disk_path)),
                  inputs or EntropyInputs(), output.append)
    return board, output


def device_ids(board: Board) -> list[int]:
    """DeviceID of every slot, read through MMIO as a guest would, slot 0 first."""
    return [board.virtio[n].read(VIRTIO_MMIO_DEVICE_ID, 4) for n in range(VIRTIO_COUNT)]


def console(output: list[bytes]) -> str:
    return b"".join(output).decode().replace("\r\n", "\n")


# --- slots --------------------------------------------------------------------------

def test_no_devices_by_default():
    board = spin_board()
    assert device_ids(board) == [VIRTIO_ID_NONE] * VIRTIO_COUNT
    assert board.config.disk is None


@pytest.mark.parametrize("with_disk, rng, expected_top", [
    (True, False, [VIRTIO_ID_BLOCK]),
    (False, True, [VIRTIO_ID_RNG]),
    (True, True, [VIRTIO_ID_BLOCK, VIRTIO_ID_RNG]),
])
def test_devices_fill_slots_from_the_highest(disk_copy, with_disk, rng, expected_top):
    board = spin_board(open_disk(disk_copy) if with_disk else None, rng)
    ids = device_ids(board)
    top = [ids[n] for n in reversed(range(VIRTIO_COUNT))][:len(expected_top)]
    assert top == expected_top
    assert ids.count(VIRTIO_ID_NONE) == VIRTIO_COUNT - len(expected_top)
    for n, slot in enumerate(board.virtio):
        assert slot.base == VIRTIO_BASE + n * VIRTIO_STRIDE and slot.index == n
    # Every slot is on the bus at its own address.
    assert [d for d in board.bus.devices if d in board.virtio] == board.virtio


def test_settle_payload_describes_the_disk_in_the_config(disk_copy):
    board = spin_board(open_disk(disk_copy))
    data = disk_copy.read_bytes()
    assert board.config.disk == DiskConfig(str(disk_copy), hashlib.sha256(data).hexdigest(),
                                           len(data), False)
    assert board.config.to_dict()["disk"]["sha256"] == hashlib.sha256(data).hexdigest()


# --- the guest ----------------------------------------------------------------------

def test_guest_drives_both_devices(disk_copy):
    board, output = guest_board(disk_copy)
    exit_ = RunLoop(board).run()
    assert exit_.kind == "poweroff", console(output)
    assert console(output) == EXPECTED.read_text()
    # Two entropy requests of 32 bytes, asked from inside the notify stores.
    assert [size for _, size in board.inputs.asked] == [32, 32]
    # The guest's write stayed in the overlay: the file is untouched.
    assert disk_copy.read_bytes() == DISK.read_bytes()
    blk = board.virtio[VIRTIO_COUNT - 1]
    assert isinstance(blk, VirtioBlk) and sorted(blk.disk.overlay) == [1]
    assert blk.disk.read(SECTOR, 8) == b"RRBC" + (1).to_bytes(4, "little")


def test_guest_without_devices_says_so(tmp_path):
    if not GUEST.is_file():
        pytest.skip("guests/bin/virtio.elf not built (make -C guests)")
    output: list[bytes] = []
    board = Board(BoardConfig(), BootPayload(load_image(str(GUEST))), EntropyInputs(),
                  output.append)
    assert RunLoop(board).run().kind == "poweroff"
    assert console(output) == ("virtio: start\nvirtio: no virtio-blk device\n"
                               "virtio: no virtio-rng device\nvirtio: done\n")


def run_with_stops(disk_path: Path, stops: list[int]):
    board, output = guest_board(disk_path)
    loop = RunLoop(board)
    for stop in sorted(stops):
        if loop.run_until(stop) is not None:
            break
    exit_ = loop.run_until(None)
    return exit_, board.cpu.icount, state_digest(board), console(output), board.inputs.asked


def test_random_stops_do_not_change_the_run(disk_copy):
    """Requests complete inside the notify store and interrupts land at epoch
    boundaries or wfi: the same run however it is chunked."""
    reference = run_with_stops(disk_copy, [])
    end = reference[1]
    rng = random.Random("virtio")
    for count in (5, 200):
        assert run_with_stops(disk_copy, [rng.randrange(1, end) for _ in range(count)]) == reference


# --- board state ----------------------------------------------------------------------

def test_disk_overlay_is_part_of_the_board_state(disk_copy):
    board, _ = guest_board(disk_copy)
    before_digest, before_state = state_digest(board), board.get_state()
    RunLoop(board).run()
    after_state = board.get_state()
    blk = board.virtio[VIRTIO_COUNT - 1]
    written = blk.disk.read_sectors(1, 1)
    assert written != DISK.read_bytes()[SECTOR:2 * SECTOR]

    board.set_state(before_state)                 # as a checkpoint restore does
    assert blk.disk.overlay == {}
    assert blk.disk.read_sectors(1, 1) == DISK.read_bytes()[SECTOR:2 * SECTOR]
    assert blk.read(VIRTIO_MMIO_STATUS, 4) == 0
    board.set_state(after_state)
    assert blk.disk.read_sectors(1, 1) == written
    assert blk.read(VIRTIO_MMIO_STATUS, 4) & VIRTIO_STATUS_DRIVER_OK

    # The state hash sees the overlay: same machine, other disk contents, other hash.
    digest = state_digest(board)
    assert digest != before_digest
    blk.disk.write_sectors(2, b"\x55" * SECTOR)
    assert state_digest(board) != digest


def test_reset_renews_the_devices_but_keeps_the_disk(disk_copy):
    board, _ = guest_board(disk_copy)
    RunLoop(board).run()
    old_blk, old_rng = board.virtio[VIRTIO_COUNT - 1], board.virtio[VIRTIO_COUNT - 2]
    board.reset()
    blk, rng = board.virtio[VIRTIO_COUNT - 1], board.virtio[VIRTIO_COUNT - 2]
    assert isinstance(blk, VirtioBlk) and isinstance(rng, VirtioRng)
    assert blk is not old_blk and rng is not old_rng
    assert blk.read(VIRTIO_MMIO_STATUS, 4) == 0 and rng.read(VIRTIO_MMIO_STATUS, 4) == 0
    assert blk.disk is old_blk.disk and sorted(blk.disk.overlay) == [1]   # a reboot keeps the disk
    assert blk in board.bus.devices and old_blk not in board.bus.devices


# --- configuration and header compatibility -------------------------------------------

def test_board_config_round_trip_and_old_headers():
    config = BoardConfig(disk=DiskConfig("/d.img", "ab" * 32, 4096, True), virtio_rng=True)
    assert BoardConfig.from_dict(config.to_dict()) == config
    old = {k: v for k, v in BoardConfig().to_dict().items() if k not in ("disk", "virtio_rng")}
    restored = BoardConfig.from_dict(old)
    assert restored.disk is None and restored.virtio_rng is False
    with pytest.raises(BoardConfigError, match="disk"):
        BoardConfig.from_dict({"disk": {"path": "/d.img", "size": 1}})


def test_trace_header_without_disk_key_reads_as_no_disk():
    plain = TraceHeader().to_plain()
    assert "disk" in plain and plain["disk"] is None
    del plain["disk"]                               # a header written before disks existed
    assert TraceHeader.from_plain(plain).disk is None


# --- opening disks --------------------------------------------------------------------

def test_open_disk_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.img"
    with pytest.raises(DiskError, match=f"disk image {missing}: no such file"):
        open_disk(missing)
    with pytest.raises(DiskError, match="is a directory"):
        open_disk(tmp_path)
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    with pytest.raises(DiskError, match=f"disk image {empty}: file is empty"):
        open_disk(empty)


def test_open_recorded_disk_checks_the_hash(disk_copy):
    data = disk_copy.read_bytes()
    good = hashlib.sha256(data).hexdigest()
    with open_recorded_disk(str(disk_copy), good, len(data)) as disk:
        assert disk.read(0, 4) == data[:4] and not disk.writable
    disk_copy.write_bytes(b"X" + data[1:])
    changed = hashlib.sha256(disk_copy.read_bytes()).hexdigest()
    with pytest.raises(DiskError) as info:
        open_recorded_disk(str(disk_copy), good, len(data))
    message = str(info.value)
    assert str(disk_copy) in message and good in message and changed not in message


def test_open_recorded_disk_refuses_other_files_without_hashing_them(disk_copy, tmp_path):
    """The path comes from a trace: only a regular file of the recorded size is read."""
    data = disk_copy.read_bytes()
    good = hashlib.sha256(data).hexdigest()
    longer = tmp_path / "longer.img"
    longer.write_bytes(data + bytes(512))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, fragment in ((longer, f"{len(data) + 512} bytes, the trace expects {len(data)}"),
                           (fifo, "not a regular file"), (tmp_path, "not a regular file"),
                           (Path("/dev/zero"), "not a regular file")):
        with pytest.raises(DiskError) as info:
            open_recorded_disk(str(path), good, len(data))
        message = str(info.value)
        assert fragment in message and str(path) in message, message
        assert hashlib.sha256(data + bytes(512)).hexdigest() not in message


def test_in_memory_disk_never_writes_a_file(disk_copy):
    data = disk_copy.read_bytes()
    disk = DiskImage.from_bytes(data, str(disk_copy))
    assert disk.sha256 == hashlib.sha256(data).hexdigest() and disk.sectors == len(data) // SECTOR
    disk.write_sectors(0, b"\x77" * SECTOR)
    disk.flush()
    assert disk.read(0, 2) == b"\x77\x77" and disk.original_bytes() == data
    assert disk_copy.read_bytes() == data
    with pytest.raises(ValueError):
        DiskImage(str(disk_copy), writable=True, contents=data)


def test_writable_disk_restores_exactly_although_the_file_moved_on(disk_copy):
    """A checkpoint taken before a write-through, restored after it: the guest
    sees the old sector again (not the file's new bytes); the file keeps the write."""
    original = disk_copy.read_bytes()
    disk = open_disk(disk_copy, writable=True)
    before = disk.get_state()
    disk.write_sectors(1, b"\x99" * SECTOR)
    assert disk_copy.read_bytes()[SECTOR:2 * SECTOR] == b"\x99" * SECTOR
    disk.set_state(before)
    assert disk.read_sectors(0, 3) == original[:3 * SECTOR]
    assert disk.original_bytes() == original
    assert disk.sha256 == hashlib.sha256(original).hexdigest()
    disk.close()
