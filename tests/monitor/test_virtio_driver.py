"""The virtio-mmio transport and split virtqueues, driven like Linux's virtio_mmio driver.

Also home of ``FakeDriver``, the small driver the other virtio tests use: it
lays out a descriptor table and both rings in a bytearray-backed RAM and
talks to a device only through its MMIO registers.
"""

from __future__ import annotations

import struct

import pytest

from rr.monitor.constants import (
    VIRTIO_BASE, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1,
    VIRTIO_MMIO_CONFIG_GENERATION, VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_DEVICE_FEATURES_SEL,
    VIRTIO_MMIO_DEVICE_ID, VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL,
    VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_VRING, VIRTIO_MMIO_INTERRUPT_ACK,
    VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_QUEUE_DESC_HIGH,
    VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, VIRTIO_MMIO_QUEUE_DEVICE_LOW,
    VIRTIO_MMIO_QUEUE_DRIVER_HIGH, VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_NOTIFY,
    VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_QUEUE_READY,
    VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_SHM_LEN_HIGH, VIRTIO_MMIO_SHM_LEN_LOW,
    VIRTIO_MMIO_SHM_SEL, VIRTIO_MMIO_STATUS, VIRTIO_MMIO_VERSION,
    VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DRIVER,
    VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_FEATURES_OK, VIRTQ_DESC_F_INDIRECT,
    VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
)
from rr.monitor.devices.virtio_mmio import VirtioMmioDevice
from rr.monitor.devices.virtio_queue import DescriptorChain, RamDma

RAM_BASE = 0x8000_0000
RAM_SIZE = 1 << 20
DESC_AREA = RAM_BASE + 0x0000
AVAIL_AREA = RAM_BASE + 0x2000
USED_AREA = RAM_BASE + 0x3000
INDIRECT_AREA = RAM_BASE + 0x8000
BUFFER_AREA = RAM_BASE + 0x10000


class Line:
    """An IrqLine that remembers every level it was driven to."""

    def __init__(self) -> None:
        self.level = False
        self.changes: list[bool] = []

    def set_level(self, level: bool) -> None:
        self.level = level
        self.changes.append(level)


def make_ram() -> RamDma:
    return RamDma(bytearray(RAM_SIZE), RAM_BASE)


class FakeDriver:
    """Linux's probe sequence plus a tiny split-ring driver over a ``RamDma``."""

    def __init__(self, device: VirtioMmioDevice, ram: RamDma, queue_size: int = 8) -> None:
        self.dev = device
        self.ram = ram
        self.queue_size = queue_size
        self.avail_idx = 0
        self.used_seen = 0
        self.next_desc = 0
        self.next_buffer = BUFFER_AREA
        self.next_indirect = INDIRECT_AREA

    # --- registers --------------------------------------------------------------
    def r(self, offset: int) -> int:
        return self.dev.read(offset, 4)

    def w(self, offset: int, value: int) -> None:
        self.dev.write(offset, 4, value)

    def features(self) -> int:
        value = 0
        for sel in (0, 1):
            self.w(VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel)
            value |= self.r(VIRTIO_MMIO_DEVICE_FEATURES) << (32 * sel)
        return value

    def write_features(self, value: int) -> None:
        for sel in (0, 1):
            self.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel)
            self.w(VIRTIO_MMIO_DRIVER_FEATURES, value >> (32 * sel) & 0xFFFF_FFFF)

    def add_status(self, bits: int) -> None:
        self.w(VIRTIO_MMIO_STATUS, self.r(VIRTIO_MMIO_STATUS) | bits)

    def start(self, accept: int | None = None, driver_ok: bool = True) -> int:
        """reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0, DRIVER_OK."""
        assert self.r(VIRTIO_MMIO_MAGIC_VALUE) == 0x74726976
        assert self.r(VIRTIO_MMIO_VERSION) == 2
        assert self.r(VIRTIO_MMIO_DEVICE_ID) == self.dev.device_id
        self.w(VIRTIO_MMIO_STATUS, 0)
        self.add_status(VIRTIO_STATUS_ACKNOWLEDGE)
        self.add_status(VIRTIO_STATUS_DRIVER)
        offered = self.features()
        negotiated = offered if accept is None else offered & accept
        self.write_features(negotiated)
        self.add_status(VIRTIO_STATUS_FEATURES_OK)
        assert self.r(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK
        self.setup_queue(0)
        if driver_ok:
            self.add_status(VIRTIO_STATUS_DRIVER_OK)
        return negotiated

    def setup_queue(self, index: int) -> None:
        self.w(VIRTIO_MMIO_QUEUE_SEL, index)
        assert self.r(VIRTIO_MMIO_QUEUE_READY) == 0
        maximum = self.r(VIRTIO_MMIO_QUEUE_NUM_MAX)
        assert maximum >= self.queue_size
        self.w(VIRTIO_MMIO_QUEUE_NUM, self.queue_size)
        for area in (DESC_AREA, AVAIL_AREA, USED_AREA):      # fresh rings, as Linux allocates
            self.ram.write(area, bytes(0x1000))
        areas = ((VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH, DESC_AREA),
                 (VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, AVAIL_AREA),
                 (VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, USED_AREA))
        for low, high, addr in areas:
            self.w(low, addr & 0xFFFF_FFFF)
            self.w(high, addr >> 32)
        self.w(VIRTIO_MMIO_QUEUE_READY, 1)
        assert self.r(VIRTIO_MMIO_QUEUE_READY) == 1

    # --- buffers ----------------------------------------------------------------
    def buffer(self, data: bytes | int) -> int:
        """Room in RAM for ``data`` (bytes to place, or a length to reserve, filled 0xEE)."""
        length = data if isinstance(data, int) else len(data)
        addr = self.next_buffer
        self.next_buffer += (length + 15) & ~15 or 16
        self.ram.write(addr, bytes([0xEE]) * length if isinstance(data, int) else data)
        return addr

    def write_desc(self, table: int, index: int, addr: int, length: int, flags: int,
                   nxt: int) -> None:
        self.ram.write(table + 16 * index, struct.pack("<QIHH", addr, length, flags, nxt))

    def submit(self, parts: list[tuple[bytes | int, bool]], indirect: bool = False
               ) -> list[tuple[int, int, bool]]:
        """Make a chain of (data or length, device-writable) buffers available.

        Returns [(addr, length, writable)] of the buffers, for reading back.
        """
        buffers = []
        for data, writable in parts:
            length = data if isinstance(data, int) else len(data)
            buffers.append((self.buffer(data), length, writable))
        if indirect:
            table = self.next_indirect
            self.next_indirect += 16 * len(buffers)
            for n, (addr, length, writable) in enumerate(buffers):
                flags = (VIRTQ_DESC_F_WRITE if writable else 0) \
                    | (VIRTQ_DESC_F_NEXT if n + 1 < len(buffers) else 0)
                self.write_desc(table, n, addr, length, flags, n + 1)
            head = self.next_desc
            self.next_desc = (self.next_desc + 1) % self.queue_size
            self.write_desc(DESC_AREA, head, table, 16 * len(buffers), VIRTQ_DESC_F_INDIRECT, 0)
        else:
            indices = [(self.next_desc + n) % self.queue_size for n in range(len(buffers))]
            self.next_desc = (self.next_desc + len(buffers)) % self.queue_size
            for n, (addr, length, writable) in enumerate(buffers):
                last = n + 1 == len(buffers)
                flags = (VIRTQ_DESC_F_WRITE if writable else 0) | (0 if last else VIRTQ_DESC_F_NEXT)
                self.write_desc(DESC_AREA, indices[n], addr, length, flags,
                                0 if last else indices[n + 1])
            head = indices[0]
        self.publish(head)
        return buffers

    def publish(self, head: int) -> None:
        slot = self.avail_idx % self.queue_size
        self.ram.write(AVAIL_AREA + 4 + 2 * slot, struct.pack("<H", head))
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.ram.write(AVAIL_AREA + 2, struct.pack("<H", self.avail_idx))

    def notify(self, queue: int = 0) -> None:
        self.w(VIRTIO_MMIO_QUEUE_NOTIFY, queue)

    def used(self) -> list[tuple[int, int]]:
        """New (id, len) elements on the used ring since the last call."""
        idx = struct.unpack("<H", self.ram.read(USED_AREA + 2, 2))[0]
        out = []
        while self.used_seen != idx:
            slot = self.used_seen % self.queue_size
            out.append(struct.unpack("<II", self.ram.read(USED_AREA + 4 + 8 * slot, 8)))
            self.used_seen = (self.used_seen + 1) & 0xFFFF
        return out

    def ack(self) -> int:
        status = self.r(VIRTIO_MMIO_INTERRUPT_STATUS)
        self.w(VIRTIO_MMIO_INTERRUPT_ACK, status)
        return status

    def needs_reset(self) -> bool:
        return bool(self.r(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)


class EchoDevice(VirtioMmioDevice):
    """A test device: reverses its readable bytes into its writable part; two queues."""

    device_id = 0x7E
    queue_sizes = (16, 4)

    def __init__(self, base, index, irq, memory) -> None:
        super().__init__(base, index, irq, memory)
        self.served: list[tuple[int, bytes]] = []

    def device_features(self) -> int:
        return 1 << 3

    def config_space(self) -> bytes:
        return bytes(range(1, 9))

    def handle_chain(self, queue: int, chain: DescriptorChain) -> None:
        data = chain.read(0, chain.readable_len)
        self.served.append((queue, data))
        chain.write(0, data[::-1])


def make_echo(queue_size: int = 8):
    ram = make_ram()
    line = Line()
    dev = EchoDevice(VIRTIO_BASE, 0, line, ram)
    return dev, FakeDriver(dev, ram, queue_size), line, ram


# ---------------------------------------------------------------------- transport


def test_identification_and_features():
    dev, drv, _, _ = make_echo()
    assert drv.r(VIRTIO_MMIO_DEVICE_ID) == 0x7E
    features = drv.features()
    assert features >> VIRTIO_F_VERSION_1 & 1
    assert features >> VIRTIO_F_INDIRECT_DESC & 1
    assert not features >> VIRTIO_F_EVENT_IDX & 1
    assert features & (1 << 3)
    drv.w(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2)
    assert drv.r(VIRTIO_MMIO_DEVICE_FEATURES) == 0


def test_features_ok_needs_version_1_and_a_subset():
    dev, drv, _, _ = make_echo()
    for accepted in (1 << 3, (1 << VIRTIO_F_VERSION_1) | (1 << 40)):
        drv.w(VIRTIO_MMIO_STATUS, 0)
        drv.add_status(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER)
        drv.write_features(accepted)
        drv.add_status(VIRTIO_STATUS_FEATURES_OK)
        assert not drv.r(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK
    drv.w(VIRTIO_MMIO_STATUS, 0)
    negotiated = drv.start(accept=1 << VIRTIO_F_VERSION_1)
    assert dev.driver_features == negotiated == 1 << VIRTIO_F_VERSION_1
    drv.write_features(0)                   # ignored after FEATURES_OK
    assert dev.driver_features == negotiated


def test_queue_registers_read_back_and_reset_on_status_zero():
    dev, drv, line, _ = make_echo()
    drv.start()
    drv.w(VIRTIO_MMIO_QUEUE_SEL, 0)
    assert drv.r(VIRTIO_MMIO_QUEUE_NUM_MAX) == 16
    assert drv.r(VIRTIO_MMIO_QUEUE_DRIVER_LOW) == AVAIL_AREA & 0xFFFF_FFFF
    assert drv.r(VIRTIO_MMIO_QUEUE_DEVICE_HIGH) == 0
    drv.w(VIRTIO_MMIO_QUEUE_SEL, 1)
    assert drv.r(VIRTIO_MMIO_QUEUE_NUM_MAX) == 4
    drv.w(VIRTIO_MMIO_QUEUE_SEL, 2)
    assert drv.r(VIRTIO_MMIO_QUEUE_NUM_MAX) == 0      # no such queue
    drv.w(VIRTIO_MMIO_QUEUE_READY, 1)                 # ignored
    drv.submit([(b"ab", False), (2, True)])
    drv.notify()
    assert line.level
    drv.w(VIRTIO_MMIO_STATUS, 0)
    assert not line.level
    assert drv.r(VIRTIO_MMIO_STATUS) == 0 and drv.r(VIRTIO_MMIO_INTERRUPT_STATUS) == 0
    drv.w(VIRTIO_MMIO_QUEUE_SEL, 0)
    assert drv.r(VIRTIO_MMIO_QUEUE_READY) == 0 and drv.r(VIRTIO_MMIO_QUEUE_DESC_LOW) == 0
    assert dev.queues[0].last_avail_idx == 0


def test_misc_registers():
    dev, drv, _, _ = make_echo()
    assert drv.r(VIRTIO_MMIO_CONFIG_GENERATION) == 0
    drv.w(VIRTIO_MMIO_SHM_SEL, 0)
    assert drv.r(VIRTIO_MMIO_SHM_LEN_LOW) == drv.r(VIRTIO_MMIO_SHM_LEN_HIGH) == 0xFFFF_FFFF
    assert dev.read(0x100, 1) == 1 and dev.read(0x100, 4) == 0x04030201
    assert dev.read(0x104, 8) == 0x0807_0605 and dev.read(0x200, 4) == 0
    assert dev.read(VIRTIO_MMIO_STATUS, 2) == 0            # registers are 32-bit only


def test_chains_are_served_on_notify_and_interrupt_until_acked():
    dev, drv, line, ram = make_echo()
    drv.start()
    bufs = drv.submit([(b"he", False), (b"llo", False), (3, True), (2, True)])
    assert drv.used() == [] and not line.level               # nothing before the notify
    drv.notify()
    assert drv.used() == [(0, 5)]
    assert ram.read(bufs[2][0], 3) + ram.read(bufs[3][0], 2) == b"olleh"
    assert line.changes == [True]
    assert drv.r(VIRTIO_MMIO_INTERRUPT_STATUS) == VIRTIO_MMIO_INT_VRING
    assert drv.ack() == VIRTIO_MMIO_INT_VRING
    assert line.changes == [True, False]
    assert dev.last_error is None


def test_many_requests_wrap_the_rings():
    dev, drv, line, ram = make_echo(queue_size=4)
    drv.start()
    for n in range(70):
        payload = bytes([n, n + 1])
        bufs = drv.submit([(payload, False), (2, True)])
        if n % 3 == 0:
            bufs2 = drv.submit([(b"x", False), (1, True)])
        drv.notify()
        used = drv.used()
        assert used[0][1] == 2 and ram.read(bufs[1][0], 2) == payload[::-1]
        if n % 3 == 0:
            assert len(used) == 2 and ram.read(bufs2[1][0], 1) == b"x"
        drv.ack()
    assert dev.last_error is None and not drv.needs_reset()


def test_indirect_descriptors():
    dev, drv, _, ram = make_echo()
    drv.start()
    bufs = drv.submit([(b"abc", False), (b"d", False), (4, True)], indirect=True)
    drv.notify()
    assert drv.used() == [(0, 4)]
    assert ram.read(bufs[2][0], 4) == b"dcba"


def test_buffers_made_available_before_driver_ok_are_served_at_driver_ok():
    dev, drv, line, _ = make_echo()
    drv.start(driver_ok=False)
    drv.submit([(b"ab", False), (2, True)])
    drv.notify()                                   # before DRIVER_OK: ignored
    assert drv.used() == [] and not line.level
    drv.add_status(VIRTIO_STATUS_DRIVER_OK)
    assert drv.used() == [(0, 2)] and line.level


def test_second_queue_and_unknown_notify():
    dev, drv, _, _ = make_echo()
    drv.start()
    drv.notify(5)                                  # no such queue: ignored
    drv.notify(1)                                  # not set up: ignored
    assert dev.last_error is None and dev.served == []


# ---------------------------------------------------------------------- malformed queues


def _broken(drv: FakeDriver, line: Line, dev) -> None:
    assert drv.needs_reset()
    assert drv.r(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG
    assert line.level
    assert dev.last_error


def _started():
    dev, drv, line, ram = make_echo()
    drv.start()
    return dev, drv, line, ram


@pytest.mark.parametrize("breakage", [
    "head_out_of_range", "next_out_of_range", "loop", "outside_ram", "readable_after_writable",
    "avail_jump", "nested_indirect", "indirect_bad_length", "indirect_with_next",
    "used_ring_outside_ram", "table_outside_ram", "wrapping_address",
])
def test_malformed_queue_sets_needs_reset(breakage):
    dev, drv, line, ram = _started()
    if breakage == "head_out_of_range":
        drv.publish(8)
    elif breakage == "next_out_of_range":
        drv.write_desc(DESC_AREA, 0, BUFFER_AREA, 4, VIRTQ_DESC_F_NEXT, 9)
        drv.publish(0)
    elif breakage == "loop":
        drv.write_desc(DESC_AREA, 0, BUFFER_AREA, 4, VIRTQ_DESC_F_NEXT, 1)
        drv.write_desc(DESC_AREA, 1, BUFFER_AREA, 4, VIRTQ_DESC_F_NEXT, 0)
        drv.publish(0)
    elif breakage == "outside_ram":
        drv.write_desc(DESC_AREA, 0, 0x1000_0000, 4, 0, 0)     # the UART, not RAM
        drv.publish(0)
    elif breakage == "readable_after_writable":
        drv.write_desc(DESC_AREA, 0, BUFFER_AREA, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1)
        drv.write_desc(DESC_AREA, 1, BUFFER_AREA, 4, 0, 0)
        drv.publish(0)
    elif breakage == "avail_jump":
        ram.write(AVAIL_AREA + 2, struct.pack("<H", 9))
    elif breakage == "nested_indirect":
        drv.write_desc(INDIRECT_AREA, 0, INDIRECT_AREA, 16, VIRTQ_DESC_F_INDIRECT, 0)
        drv.write_desc(DESC_AREA, 0, INDIRECT_AREA, 16, VIRTQ_DESC_F_INDIRECT, 0)
        drv.publish(0)
    elif breakage == "indirect_bad_length":
        drv.write_desc(DESC_AREA, 0, INDIRECT_AREA, 15, VIRTQ_DESC_F_INDIRECT, 0)
        drv.publish(0)
    elif breakage == "indirect_with_next":
        drv.write_desc(DESC_AREA, 0, INDIRECT_AREA, 16,
                       VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1)
        drv.publish(0)
    elif breakage == "used_ring_outside_ram":
        drv.w(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0x10)
        drv.submit([(b"a", False), (1, True)])
    elif breakage == "table_outside_ram":
        drv.w(VIRTIO_MMIO_QUEUE_DESC_LOW, 0xFFFF_FFF8)
        drv.publish(0)
    elif breakage == "wrapping_address":
        drv.write_desc(DESC_AREA, 0, (1 << 64) - 2, 4, 0, 0)
        drv.publish(0)
    drv.notify()
    _broken(drv, line, dev)
    assert dev.served == []
    # Stopped until reset: a good request is not served.
    drv.submit([(b"a", False), (1, True)])
    drv.notify()
    assert dev.served == []
    # A reset and a new start bring it back.
    drv2 = FakeDriver(dev, ram)
    drv2.start()
    drv2.submit([(b"ok", False), (2, True)])
    drv2.notify()
    assert dev.served == [(0, b"ok")] and not drv2.needs_reset()


def test_indirect_without_negotiation_is_malformed():
    dev, drv, line, _ = make_echo()
    drv.start(accept=1 << VIRTIO_F_VERSION_1)
    drv.submit([(b"a", False), (1, True)], indirect=True)
    drv.notify()
    _broken(drv, line, dev)


def test_bad_queue_size_at_ready():
    dev, drv, line, _ = make_echo(queue_size=8)
    drv.w(VIRTIO_MMIO_STATUS, 0)
    drv.add_status(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER)
    drv.write_features(drv.features())
    drv.add_status(VIRTIO_STATUS_FEATURES_OK)
    drv.w(VIRTIO_MMIO_QUEUE_SEL, 0)
    drv.w(VIRTIO_MMIO_QUEUE_NUM, 12)
    drv.w(VIRTIO_MMIO_QUEUE_READY, 1)
    assert drv.r(VIRTIO_MMIO_QUEUE_READY) == 0
    _broken(drv, line, dev)


def test_memory_that_raises_is_contained():
    class Hostile:
        def read(self, paddr, size):
            raise RuntimeError("boom")

        def write(self, paddr, data):
            raise RuntimeError("boom")

    line = Line()
    dev = EchoDevice(VIRTIO_BASE, 0, line, Hostile())
    drv = FakeDriver(dev, make_ram())
    drv.start()
    drv.notify()
    _broken(drv, line, dev)


def test_handler_exception_is_contained():
    class Buggy(EchoDevice):
        def handle_chain(self, queue, chain):
            raise ZeroDivisionError

    ram, line = make_ram(), Line()
    dev = Buggy(VIRTIO_BASE, 0, line, ram)
    drv = FakeDriver(dev, ram)
    drv.start()
    drv.submit([(b"a", False), (1, True)])
    drv.notify()
    _broken(drv, line, dev)
    assert "ZeroDivisionError" in dev.last_error


# ---------------------------------------------------------------------- snapshots


def test_state_round_trip_mid_way():
    dev, drv, line, ram = make_echo(queue_size=4)
    drv.start()
    for n in range(3):
        drv.submit([(bytes([n]), False), (1, True)])
        drv.notify()
    state = dev.get_state()
    saved_ram = bytes(ram._buffer)
    saved_driver = dict(drv.__dict__)

    def more(driver):
        for payload in (b"xy", b"pqr", b"s"):
            driver.submit([(payload, False), (len(payload), True)])
            driver.notify()
            driver.ack()

    more(drv)                                      # continue on the original...
    expected = (dev.get_state(), bytes(ram._buffer), drv.used())
    ram2 = RamDma(bytearray(saved_ram), RAM_BASE)  # ...and on a copy made from the snapshot
    line2 = Line()
    dev2 = EchoDevice(VIRTIO_BASE, 0, line2, ram2)
    dev2.set_state(state)
    assert dev2.get_state() == state and dev2.irq_level
    assert line2.changes == []                    # restoring does not drive the line
    drv.__dict__.update(saved_driver)
    drv.dev, drv.ram = dev2, ram2
    more(drv)
    assert (dev2.get_state(), bytes(ram2._buffer), drv.used()) == expected
    assert dev2.served == [(0, b"xy"), (0, b"pqr"), (0, b"s")]


def test_state_is_plain_data():
    from rr.log.plain import check_plain
    dev, drv, _, _ = make_echo()
    drv.start()
    drv.submit([(b"a", False), (1, True)])
    drv.notify()
    check_plain(dev.get_state(), "virtio state")
