"""DiskImage: the image file behind virtio-blk, with its copy-on-write overlay."""

from __future__ import annotations

import hashlib

import pytest

from rr.log.plain import check_plain, pack_plain, unpack_plain
from rr.monitor.disk_image import DiskImage


def image(tmp_path, data: bytes):
    path = tmp_path / "disk.img"
    path.write_bytes(data)
    return path


def pattern(size: int) -> bytes:
    return bytes((n * 7 + n // 512) & 0xFF for n in range(size))


def test_size_sectors_and_hash(tmp_path):
    data = pattern(3 * 512 + 100)
    path = image(tmp_path, data)
    with DiskImage(path) as disk:
        assert disk.size == len(data)
        assert disk.sectors == 4                         # rounded up, as QEMU does
        assert disk.sha256 == hashlib.sha256(data).hexdigest()
        assert disk.read_sectors(0, 3) == data[:1536]
        assert disk.read_sectors(3, 1) == data[1536:] + bytes(412)   # zeros past the end
        assert disk.read(700, 10) == data[700:710]


def test_hash_streams_large_files(tmp_path):
    data = pattern(3 * 1024 * 1024 + 5)
    with DiskImage(image(tmp_path, data)) as disk:
        assert disk.sha256 == hashlib.sha256(data).hexdigest()


def test_writes_go_to_the_overlay_not_the_file(tmp_path):
    data = pattern(8 * 512)
    path = image(tmp_path, data)
    disk = DiskImage(path)
    disk.write_sectors(2, b"\x11" * 1024)
    assert disk.read_sectors(1, 4) == data[512:1024] + b"\x11" * 1024 + data[2048:2560]
    assert disk.read(2 * 512 - 2, 4) == data[1022:1024] + b"\x11\x11"
    disk.flush()
    disk.close()
    assert path.read_bytes() == data
    with DiskImage(path) as again:
        assert again.read_sectors(2, 1) == data[1024:1536]


def test_writable_writes_through_without_growing_the_file(tmp_path):
    data = pattern(2 * 512 + 10)
    path = image(tmp_path, data)
    original_hash = hashlib.sha256(data).hexdigest()
    with DiskImage(path, writable=True) as disk:
        disk.write_sectors(0, b"\x22" * 512)
        disk.write_sectors(2, b"\x33" * 512)             # the partial last sector
        disk.flush()
        assert disk.sha256 == original_hash              # the contents before any write
        assert disk.read_sectors(2, 1) == b"\x33" * 512  # the guest sees the whole sector
    assert path.read_bytes() == b"\x22" * 512 + data[512:1024] + b"\x33" * 10


def test_out_of_range_and_partial_sectors_are_refused(tmp_path):
    with DiskImage(image(tmp_path, pattern(1024))) as disk:
        with pytest.raises(ValueError):
            disk.read_sectors(1, 2)
        with pytest.raises(ValueError):
            disk.write_sectors(2, bytes(512))
        with pytest.raises(ValueError):
            disk.write_sectors(0, bytes(100))
        with pytest.raises(ValueError):
            disk.read_sectors(-1, 1)


def test_state_is_plain_runs_and_round_trips(tmp_path):
    data = pattern(16 * 512)
    path = image(tmp_path, data)
    disk = DiskImage(path)
    disk.write_sectors(5, b"\x01" * 512)
    disk.write_sectors(3, b"\x02" * 1024)
    disk.write_sectors(9, b"\x03" * 512)
    state = disk.get_state()
    assert state == {"overlay": [[3, b"\x02" * 1024 + b"\x01" * 512], [9, b"\x03" * 512]]}
    check_plain(state, "disk")
    state = unpack_plain(pack_plain(state, "disk"), "disk")
    disk.write_sectors(0, b"\x04" * 512)
    other = DiskImage(path)
    other.set_state(state)
    disk.set_state(state)
    for d in (disk, other):
        assert d.read_sectors(0, 1) == data[:512]
        assert d.read_sectors(3, 3) == b"\x02" * 1024 + b"\x01" * 512
        assert d.read_sectors(9, 1) == b"\x03" * 512
    assert DiskImage(path).get_state() == {"overlay": []}
