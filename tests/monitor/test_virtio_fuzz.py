"""Fuzzing the virtio devices: no exception ever escapes an MMIO access.

Two attack surfaces: the transport registers (any offset, width and value,
in any order) and the contents of the rings and descriptors the device walks
on a notify. Whatever happens, the device either serves the requests or sets
DEVICE_NEEDS_RESET, its state stays plain data that round-trips, and its
interrupt line matches its interrupt status.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rr.log.plain import check_plain
from rr.monitor.constants import (
    VIRTIO_BASE, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTQ_DESC_F_INDIRECT,
)
from rr.monitor.devices.virtio_blk import VirtioBlk
from rr.monitor.devices.virtio_queue import RamDma
from rr.monitor.devices.virtio_rng import VirtioRng
from rr.monitor.disk_image import DiskImage

from test_virtio_driver import (
    AVAIL_AREA, BUFFER_AREA, DESC_AREA, INDIRECT_AREA, RAM_BASE, RAM_SIZE, USED_AREA, EchoDevice,
    FakeDriver, Line,
)

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
REGISTER_OFFSETS = list(range(0, 0x100, 4)) + [0x100, 0x104, 0x108, 0x10C, 0x114, 0x13C, 0xFFC]


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "disk.img"
    path.write_bytes(bytes(range(256)) * 64)             # 32 sectors
    return path


def build(kind: str, image_path, ram: RamDma, line: Line):
    if kind == "blk":
        return VirtioBlk(VIRTIO_BASE, 0, line, ram, DiskImage(image_path))
    if kind == "rng":
        return VirtioRng(VIRTIO_BASE, 0, line, ram, lambda n: bytes(n))
    return EchoDevice(VIRTIO_BASE, 0, line, ram)


def check_invariants(dev, line: Line, kind: str, image_path, ram: RamDma) -> None:
    assert line.level == bool(dev.interrupt_status) == dev.irq_level
    state = dev.get_state()
    check_plain(state, "virtio state")
    twin = build(kind, image_path, ram, Line())
    twin.set_state(state)
    assert twin.get_state() == state


ram_address = st.one_of(
    st.integers(RAM_BASE, RAM_BASE + RAM_SIZE + 64),
    st.integers(RAM_BASE - 64, RAM_BASE + 64),
    st.integers(0, (1 << 64) - 1),
)
register_value = st.one_of(
    st.integers(0, 16),
    st.sampled_from([0xFF, 0x7F, 0x40, 0x0F, 0x8000_0000, 0xFFFF_FFFF, 1 << 31]),
    ram_address.map(lambda a: a & 0xFFFF_FFFF),
    st.integers(0, (1 << 64) - 1),
)
operation = st.tuples(
    st.booleans(),                                              # write?
    st.one_of(st.sampled_from(REGISTER_OFFSETS), st.integers(0, 0xFFF)),
    st.sampled_from([4, 4, 4, 1, 2, 8]),
    register_value,
)


@pytest.mark.parametrize("kind", ["echo", "blk", "rng"])
@FUZZ
@given(ops=st.lists(operation, max_size=60), noise=st.binary(max_size=512))
def test_register_fuzz_never_raises(kind, image_path, ops, noise):
    ram, line = RamDma(bytearray(RAM_SIZE), RAM_BASE), Line()
    # Plausible-looking garbage where a driver would put its rings.
    for area in (DESC_AREA, AVAIL_AREA, USED_AREA, BUFFER_AREA):
        ram.write(area, noise)
    dev = build(kind, image_path, ram, line)
    for is_write, offset, size, value in ops:
        if is_write:
            dev.write(offset, size, value & ((1 << (8 * size)) - 1))
        else:
            result = dev.read(offset, size)
            assert 0 <= result < 1 << (8 * size)
    check_invariants(dev, line, kind, image_path, ram)


wild_descriptor = st.tuples(
    ram_address,
    st.one_of(st.integers(0, 64), st.integers(0, 0xFFFF_FFFF)),
    st.one_of(st.integers(0, 7), st.integers(0, 0xFFFF)),
    st.one_of(st.integers(0, 9), st.integers(0, 0xFFFF)),
)
# Mostly well formed: buffers in RAM, NEXT/WRITE only, next inside the table.
sane_descriptor = st.tuples(
    st.integers(BUFFER_AREA, BUFFER_AREA + 0x1000),
    st.sampled_from([0, 1, 16, 17, 512, 513, 1024]),
    st.sampled_from([0, 1, 2, 3]),
    st.integers(0, 7),
)
descriptor = st.one_of(sane_descriptor, sane_descriptor, wild_descriptor)
blk_header = st.tuples(st.sampled_from([0, 1, 4, 8, 0, 1, 3]), st.integers(0, 40)).map(
    lambda t: struct.pack("<IIQ", t[0], 0, t[1]))


@pytest.mark.parametrize("kind", ["echo", "blk", "rng"])
@FUZZ
@given(descs=st.lists(descriptor, min_size=8, max_size=8),
       indirect=st.lists(descriptor, max_size=6),
       heads=st.lists(st.one_of(st.integers(0, 7), st.integers(0, 7), st.integers(0, 0xFFFF)),
                      max_size=10),
       avail_idx=st.one_of(st.none(), st.none(), st.integers(0, 0xFFFF)),
       header=blk_header, payload=st.binary(max_size=64))
def test_descriptor_fuzz_never_raises(kind, image_path, descs, indirect, heads, avail_idx,
                                      header, payload):
    ram, line = RamDma(bytearray(RAM_SIZE), RAM_BASE), Line()
    dev = build(kind, image_path, ram, line)
    drv = FakeDriver(dev, ram, queue_size=8)
    drv.start()
    for n, (addr, length, flags, nxt) in enumerate(descs):
        drv.write_desc(DESC_AREA, n, addr, length, flags, nxt)
    for n, (addr, length, flags, nxt) in enumerate(indirect):
        drv.write_desc(INDIRECT_AREA, n, addr, length, flags, nxt)
    if indirect:     # one descriptor that points at the indirect table
        drv.write_desc(DESC_AREA, 7, INDIRECT_AREA, 16 * len(indirect), VIRTQ_DESC_F_INDIRECT, 0)
    for offset in range(0, 0x1000, 0x100):            # requests wherever a buffer may start
        ram.write(BUFFER_AREA + offset, header + payload)
    for head in heads:
        drv.publish(head)
    if avail_idx is not None:
        ram.write(AVAIL_AREA + 2, struct.pack("<H", avail_idx))
    dev.write(VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0)
    failed = bool(dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
    event("needs reset" if failed else f"served {dev.queues[0].used_idx}")
    assert failed == (dev.last_error is not None)
    used_idx = struct.unpack("<H", ram.read(USED_AREA + 2, 2))[0]
    assert used_idx == dev.queues[0].used_idx
    if not failed and avail_idx is None:
        assert used_idx == dev.queues[0].last_avail_idx == drv.avail_idx
    check_invariants(dev, line, kind, image_path, ram)
    # A reset always brings the device back.
    drv2 = FakeDriver(dev, ram, queue_size=8)
    drv2.start()
    assert not drv2.needs_reset()


part = st.one_of(
    st.tuples(blk_header, st.just(False)),
    st.tuples(st.sampled_from([1, 16, 511, 512, 1024]), st.just(True)),
    st.tuples(st.binary(min_size=1, max_size=600), st.just(False)),
)
blk_request = st.tuples(blk_header, st.sampled_from([None, 512, 1024, 100]),
                        st.sampled_from([0, 512, 20, 1024])).map(
    lambda t: [(t[0], False)] + ([(bytes(t[1]), False)] if t[1] else [])
    + ([(t[2], True)] if t[2] else []) + [(1, True)])
request = st.one_of(st.lists(part, min_size=1, max_size=5), blk_request)
# (area, offset into it, byte) mutations of a well-formed queue
mutation = st.tuples(st.sampled_from([DESC_AREA, AVAIL_AREA, INDIRECT_AREA]),
                     st.integers(0, 8 * 16 - 1), st.integers(0, 255))


@pytest.mark.parametrize("kind", ["echo", "blk", "rng"])
@FUZZ
@given(requests=st.lists(st.tuples(request, st.booleans()), min_size=1, max_size=6),
       mutations=st.lists(mutation, max_size=3))
def test_mutated_requests_never_raise(kind, image_path, requests, mutations):
    ram, line = RamDma(bytearray(RAM_SIZE), RAM_BASE), Line()
    dev = build(kind, image_path, ram, line)
    drv = FakeDriver(dev, ram, queue_size=8)
    drv.start()
    for parts, indirect in requests:
        # Readable parts first, as a driver must (mutations may break that).
        ordered = [p for p in parts if not p[1]] + [p for p in parts if p[1]]
        drv.submit(ordered, indirect=indirect)
    for area, offset, byte in mutations:
        ram.write(area + offset, bytes([byte]))
    dev.write(VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0)
    failed = bool(dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
    event("needs reset" if failed else "served")
    assert failed == (dev.last_error is not None)
    if not mutations and kind != "blk":
        assert not failed
    if not failed:
        assert len(drv.used()) == dev.queues[0].used_idx
    check_invariants(dev, line, kind, image_path, ram)
