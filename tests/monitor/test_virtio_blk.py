"""virtio-blk over a DiskImage, driven through its MMIO registers and split rings."""

from __future__ import annotations

import hashlib
import struct

from rr.monitor.constants import (
    VIRTIO_BASE, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO,
    VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP,
    VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
    VIRTIO_F_VERSION_1, VIRTIO_MMIO_DEVICE_ID, VIRTIO_MMIO_INT_VRING,
    VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_STATUS,
)
from rr.monitor.devices.virtio_blk import VirtioBlk
from rr.monitor.devices.virtio_queue import RamDma
from rr.monitor.disk_image import DiskImage

from test_virtio_driver import RAM_BASE, FakeDriver, Line, make_ram

SECTORS = 64


def pattern(size: int) -> bytes:
    return bytes((n * 13 + n // 512) & 0xFF for n in range(size))


def make_blk(tmp_path, read_only: bool = False, writable: bool = False, size: int = SECTORS * 512):
    path = tmp_path / "disk.img"
    if not path.exists():
        path.write_bytes(pattern(size))
    disk = DiskImage(path, writable=writable)
    ram, line = make_ram(), Line()
    dev = VirtioBlk(VIRTIO_BASE + 0x7000, 7, line, ram, disk, read_only=read_only)
    drv = FakeDriver(dev, ram, queue_size=16)
    drv.start()
    return dev, drv, line, ram, path


def header(kind: int, sector: int = 0) -> bytes:
    return struct.pack("<IIQ", kind, 0, sector)


def request(drv, kind, sector=0, out: bytes = b"", data_in: int = 0, indirect=False,
            split: int = 0):
    """Submit one request and complete it; returns (status, data read, used len)."""
    parts = [(header(kind, sector), False)]
    if out:
        parts.append((out, False))
    if data_in:
        if split:
            parts += [(split, True)] * (data_in // split)
        else:
            parts.append((data_in, True))
    parts.append((1, True))
    bufs = drv.submit(parts, indirect=indirect)
    drv.notify()
    used = drv.used()
    assert len(used) == 1
    data = b"".join(drv.ram.read(addr, length) for addr, length, w in bufs[:-1] if w)
    status = drv.ram.read(bufs[-1][0], 1)[0]
    return status, data, used[0][1]


def test_identity_features_and_config(tmp_path):
    dev, drv, _, _, _ = make_blk(tmp_path)
    assert drv.r(VIRTIO_MMIO_DEVICE_ID) == 2
    features = drv.features()
    for bit in (VIRTIO_F_VERSION_1, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_SEG_MAX,
                VIRTIO_BLK_F_BLK_SIZE):
        assert features >> bit & 1
    assert not features >> VIRTIO_BLK_F_RO & 1
    assert dev.read(0x100, 8) == SECTORS                       # capacity
    assert dev.read(0x100, 4) == SECTORS and dev.read(0x104, 4) == 0
    assert dev.read(0x10C, 4) == 254                           # seg_max
    assert dev.read(0x114, 4) == 512                           # blk_size
    assert dev.last_error is None


def test_read_write_flush_get_id(tmp_path):
    dev, drv, line, ram, path = make_blk(tmp_path)
    original = path.read_bytes()
    status, data, used = request(drv, VIRTIO_BLK_T_IN, 3, data_in=1024)
    assert status == VIRTIO_BLK_S_OK and data == original[3 * 512:5 * 512] and used == 1025
    assert line.level and drv.ack() == VIRTIO_MMIO_INT_VRING and not line.level

    new = b"\xA5" * 512 + b"\x5A" * 512
    status, _, used = request(drv, VIRTIO_BLK_T_OUT, 4, out=new)
    assert status == VIRTIO_BLK_S_OK and used == 1
    status, data, _ = request(drv, VIRTIO_BLK_T_IN, 3, data_in=1536)
    assert data == original[3 * 512:4 * 512] + new                # reads see the overlay

    status, _, _ = request(drv, VIRTIO_BLK_T_FLUSH)
    assert status == VIRTIO_BLK_S_OK
    status, data, used = request(drv, VIRTIO_BLK_T_GET_ID, data_in=20)
    assert status == VIRTIO_BLK_S_OK and data == b"rrvm-disk" + bytes(11) and used == 21
    status, _, _ = request(drv, 99)
    assert status == VIRTIO_BLK_S_UNSUPP
    assert dev.last_error is None and not drv.needs_reset()
    assert hashlib.sha256(original).hexdigest() == dev.disk.sha256
    dev.disk.close()
    assert path.read_bytes() == original                        # the user's file is untouched


def test_io_errors(tmp_path):
    dev, drv, _, _, _ = make_blk(tmp_path)
    assert request(drv, VIRTIO_BLK_T_IN, SECTORS - 1, data_in=1024)[0] == VIRTIO_BLK_S_IOERR
    assert request(drv, VIRTIO_BLK_T_IN, 0, data_in=100)[0] == VIRTIO_BLK_S_IOERR
    assert request(drv, VIRTIO_BLK_T_OUT, SECTORS, out=bytes(512))[0] == VIRTIO_BLK_S_IOERR
    assert request(drv, VIRTIO_BLK_T_OUT, 0, out=bytes(10))[0] == VIRTIO_BLK_S_IOERR
    assert request(drv, VIRTIO_BLK_T_IN, 1 << 63, data_in=512)[0] == VIRTIO_BLK_S_IOERR
    assert dev.disk.overlay == {} and not drv.needs_reset()


def test_read_only_disk_refuses_writes(tmp_path):
    dev, drv, _, _, path = make_blk(tmp_path, read_only=True)
    assert drv.features() >> VIRTIO_BLK_F_RO & 1
    original = path.read_bytes()
    assert request(drv, VIRTIO_BLK_T_OUT, 0, out=b"\x01" * 512)[0] == VIRTIO_BLK_S_IOERR
    status, data, _ = request(drv, VIRTIO_BLK_T_IN, 0, data_in=512)
    assert status == VIRTIO_BLK_S_OK and data == original[:512]
    assert dev.disk.overlay == {}


def test_writable_disk_writes_the_file(tmp_path):
    dev, drv, _, _, path = make_blk(tmp_path, writable=True)
    assert request(drv, VIRTIO_BLK_T_OUT, 1, out=b"\x77" * 512)[0] == VIRTIO_BLK_S_OK
    assert request(drv, VIRTIO_BLK_T_FLUSH)[0] == VIRTIO_BLK_S_OK
    assert path.read_bytes()[512:1024] == b"\x77" * 512


def test_any_framing_and_indirect(tmp_path):
    dev, drv, _, ram, path = make_blk(tmp_path)
    original = path.read_bytes()
    # Data in eight 128-byte descriptors.
    status, data, _ = request(drv, VIRTIO_BLK_T_IN, 7, data_in=1024, split=128)
    assert status == VIRTIO_BLK_S_OK and data == original[7 * 512:9 * 512]
    # Indirect table.
    status, data, _ = request(drv, VIRTIO_BLK_T_IN, 2, data_in=512, indirect=True)
    assert status == VIRTIO_BLK_S_OK and data == original[1024:1536]
    # Header and write data in one descriptor; data and status in one descriptor.
    bufs = drv.submit([(header(VIRTIO_BLK_T_OUT, 9) + b"\x42" * 512, False), (1, True)])
    drv.notify()
    assert ram.read(bufs[1][0], 1) == bytes([VIRTIO_BLK_S_OK])
    bufs = drv.submit([(header(VIRTIO_BLK_T_IN, 9), False), (513, True)])
    drv.notify()
    got = ram.read(bufs[1][0], 513)
    assert got == b"\x42" * 512 + bytes([VIRTIO_BLK_S_OK])
    assert drv.used()[-1][1] == 513
    assert dev.last_error is None


def test_request_without_status_or_header_needs_reset(tmp_path):
    dev, drv, line, _, _ = make_blk(tmp_path)
    drv.submit([(header(VIRTIO_BLK_T_IN), False)])
    drv.notify()
    assert drv.needs_reset() and line.level
    dev2, drv2, _, _, _ = make_blk(tmp_path)
    drv2.submit([(b"short", False), (1, True)])
    drv2.notify()
    assert drv2.needs_reset()


def test_state_round_trip_keeps_the_overlay_and_queue(tmp_path):
    dev, drv, line, ram, path = make_blk(tmp_path)
    request(drv, VIRTIO_BLK_T_OUT, 5, out=b"\x99" * 512)
    state = dev.get_state()
    saved_ram = bytes(ram._buffer)
    saved_driver = dict(drv.__dict__)
    request(drv, VIRTIO_BLK_T_OUT, 5, out=b"\x00" * 512)        # later history, undone below
    assert dev.disk.read_sectors(5, 1) == bytes(512)

    ram2 = RamDma(bytearray(saved_ram), RAM_BASE)
    dev2 = VirtioBlk(dev.base, 7, Line(), ram2, DiskImage(path))
    dev2.set_state(state)
    assert dev2.get_state() == state
    drv.__dict__.update(saved_driver)
    drv.dev, drv.ram = dev2, ram2
    status, data, _ = request(drv, VIRTIO_BLK_T_IN, 5, data_in=512)
    assert status == VIRTIO_BLK_S_OK and data == b"\x99" * 512


def test_disk_survives_a_device_reset(tmp_path):
    dev, drv, _, ram, _ = make_blk(tmp_path)
    request(drv, VIRTIO_BLK_T_OUT, 0, out=b"\x31" * 512)
    drv.w(VIRTIO_MMIO_STATUS, 0)
    assert drv.r(VIRTIO_MMIO_INTERRUPT_STATUS) == 0
    drv2 = FakeDriver(dev, ram, queue_size=16)
    drv2.start()
    assert request(drv2, VIRTIO_BLK_T_IN, 0, data_in=512)[1] == b"\x31" * 512
