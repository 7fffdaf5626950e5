"""virtio-rng: buffers filled with exactly the bytes of the entropy callable."""

from __future__ import annotations

from rr.monitor.constants import (
    VIRTIO_BASE, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_MMIO_DEVICE_ID,
    VIRTIO_MMIO_INT_VRING,
)
from rr.monitor.devices.virtio_rng import VirtioRng

from test_virtio_driver import FakeDriver, Line, make_ram


class Entropy:
    """A recording entropy source: a counter stream, and the sizes asked for."""

    def __init__(self) -> None:
        self.counter = 0
        self.asked: list[int] = []
        self.given = bytearray()

    def __call__(self, size: int) -> bytes:
        self.asked.append(size)
        data = bytes((self.counter + n) * 37 & 0xFF for n in range(size))
        self.counter += size
        self.given += data
        return data


def make_rng(**kwargs):
    ram, line, entropy = make_ram(), Line(), Entropy()
    dev = VirtioRng(VIRTIO_BASE + 0x6000, 6, line, ram, entropy, **kwargs)
    drv = FakeDriver(dev, ram, queue_size=8)
    return dev, drv, line, ram, entropy


def test_identity_and_features():
    dev, drv, _, _, _ = make_rng()
    assert drv.r(VIRTIO_MMIO_DEVICE_ID) == 4
    assert drv.features() == (1 << VIRTIO_F_VERSION_1) | (1 << VIRTIO_F_INDIRECT_DESC)
    assert dev.read(0x100, 4) == 0


def test_buffers_get_exactly_the_entropy_bytes():
    dev, drv, line, ram, entropy = make_rng()
    drv.start()
    first = drv.submit([(16, True)])
    second = drv.submit([(5, True), (11, True), (0, True), (3, True)])
    assert entropy.asked == []                       # nothing before the notify
    drv.notify()
    assert drv.used() == [(0, 16), (1, 19)]
    assert entropy.asked == [16, 19]
    filled = b"".join(ram.read(a, n) for a, n, _ in first + second)
    assert filled == bytes(entropy.given)
    assert line.level and drv.ack() == VIRTIO_MMIO_INT_VRING and not line.level
    assert dev.last_error is None


def test_readable_parts_are_ignored_and_requests_are_capped():
    dev, drv, _, ram, entropy = make_rng(max_request=64)
    drv.start()
    bufs = drv.submit([(b"ignored", False), (100, True)], indirect=True)
    drv.notify()
    assert entropy.asked == [64]
    assert drv.used() == [(0, 64)]
    assert ram.read(bufs[1][0], 64) == bytes(entropy.given)
    assert ram.read(bufs[1][0] + 64, 36) == b"\xEE" * 36     # the rest untouched
    assert ram.read(bufs[0][0], 7) == b"ignored"


def test_a_buffer_without_room_completes_empty():
    dev, drv, _, _, entropy = make_rng()
    drv.start()
    drv.submit([(b"x", False)])
    drv.notify()
    assert drv.used() == [(0, 0)] and entropy.asked == [] and dev.last_error is None


def test_short_entropy_fills_what_it_can():
    ram, line = make_ram(), Line()
    dev = VirtioRng(VIRTIO_BASE, 0, line, ram, lambda n: b"\x01\x02")
    drv = FakeDriver(dev, ram)
    drv.start()
    drv.submit([(8, True)])
    drv.notify()
    assert drv.used() == [(0, 2)] and dev.last_error is None


def test_state_round_trip():
    dev, drv, _, _, _ = make_rng()
    drv.start()
    drv.submit([(4, True)])
    drv.notify()
    state = dev.get_state()
    other = VirtioRng(dev.base, 6, Line(), make_ram(), Entropy())
    other.set_state(state)
    assert other.get_state() == state
    assert state["queues"][0]["last_avail_idx"] == 1 and state["queues"][0]["used_idx"] == 1
