"""Split virtqueues (virtio 1.x, section 2.7) in guest RAM, as a device sees them.

A queue is three areas the driver programs by physical address: the
descriptor table, the available ring (``driver`` area) and the used ring
(``device`` area). ``Virtqueue.process`` takes every buffer the driver made
available since the last call, walks its descriptor chain (``NEXT``,
``WRITE``, and one level of ``INDIRECT`` tables) into a ``DescriptorChain``,
hands it to the device and puts it on the used ring.

Everything read from guest memory is untrusted. Any inconsistency (an index
past the table, a loop, a readable descriptor after a writable one, an
address outside RAM, an avail index that moved by more than the queue size)
raises ``VirtqueueError`` before the bad chain has any effect; the transport
then sets DEVICE_NEEDS_RESET and processes nothing more until a reset.

Guest memory is reached through a small interface, ``read(paddr, n) ->
bytes`` and ``write(paddr, data)``, plus ``contains(paddr, n) -> bool`` when
available: with it no access ever leaves RAM, so a descriptor pointing at a
device window cannot make the monitor call into another device. ``RamDma``
provides all three over the board's RAM buffer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from rr.monitor.constants import (
    VIRTQ_AVAIL_RING, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
    VIRTQ_DESC_SIZE, VIRTQ_IDX_OFFSET, VIRTQ_INDIRECT_MAX, VIRTQ_USED_ELEM_SIZE,
    VIRTQ_USED_RING,
)
from rr.monitor.ram import forget_code

_DESC = struct.Struct("<QIHH")
_USED_ELEM = struct.Struct("<II")
_U16 = struct.Struct("<H")
_MASK64 = (1 << 64) - 1


class VirtqueueError(Exception):
    """The driver broke the queue: the device must stop and ask for a reset."""


class GuestMemoryAccess(Protocol):
    """Physical guest memory as devices see it (``contains`` is optional)."""

    def read(self, paddr: int, size: int) -> bytes: ...

    def write(self, paddr: int, data: bytes) -> None: ...


class RamDma:
    """DMA into guest RAM held in a host buffer (``GuestRam.map``) at physical ``base``.

    Accesses are confined to ``[base, base + len(buffer))``; anything else
    raises ``VirtqueueError``. RAM written behind unicorn's back may hold
    translated code, so every write is reported to ``invalidate_code(paddr,
    size)`` (see ``unicorn_code_invalidator``); tests leave it out.
    ``announce(paddr, data)`` runs before each write, so watchpoints see
    it (``rr.monitor.device_writes``).
    """

    def __init__(self, buffer, base: int,
                 invalidate_code: Callable[[int, int], None] | None = None,
                 announce: Callable[[int, bytes], None] | None = None) -> None:
        self._buffer = buffer
        self._view = memoryview(buffer)
        self.base = base
        self.size = len(buffer)
        self._invalidate_code = invalidate_code
        self._announce = announce

    def contains(self, paddr: int, size: int) -> bool:
        return size >= 0 and self.base <= paddr and paddr + size <= self.base + self.size

    def _offset(self, paddr: int, size: int) -> int:
        if not self.contains(paddr, size):
            raise VirtqueueError(f"DMA of {size} bytes at {paddr:#x} is outside RAM")
        return paddr - self.base

    def read(self, paddr: int, size: int) -> bytes:
        offset = self._offset(paddr, size)
        return bytes(self._view[offset:offset + size])

    def write(self, paddr: int, data: bytes) -> None:
        offset = self._offset(paddr, len(data))
        if self._announce is not None and data:
            self._announce(paddr, data)
        self._view[offset:offset + len(data)] = data
        if self._invalidate_code is not None and data:
            self._invalidate_code(paddr, len(data))


def unicorn_code_invalidator(hart_engine) -> Callable[[int, int], None]:
    """``invalidate_code`` for ``RamDma`` on the board's harts (their ``HartEngine``): a
    disk read may fill a page a hart ran code from (``rr.monitor.ram.forget_code``,
    with the registers of the hart that runs)."""
    def invalidate(paddr: int, size: int) -> None:
        forget_code(hart_engine.loaded, ((paddr, size),))
    return invalidate


@dataclass(frozen=True)
class Segment:
    """One descriptor's buffer: ``length`` bytes at physical ``addr``."""

    addr: int
    length: int
    writable: bool


class DescriptorChain:
    """One available buffer: its readable part, then its writable part, as byte streams.

    ``read`` and ``write`` take offsets into the concatenation of the
    readable (respectively writable) segments; ``written`` is how far the
    device has written, the ``len`` the used ring reports.
    """

    def __init__(self, memory: GuestMemoryAccess, head: int, segments: list[Segment]) -> None:
        self.memory = memory
        self.head = head
        self.segments = segments
        self.readable = [s for s in segments if not s.writable]
        self.writable = [s for s in segments if s.writable]
        self.readable_len = sum(s.length for s in self.readable)
        self.writable_len = sum(s.length for s in self.writable)
        self.written = 0

    @staticmethod
    def _pieces(segments: list[Segment], offset: int, size: int):
        """(paddr, count, position in the request) covering [offset, offset + size)."""
        position = 0
        for seg in segments:
            if size <= 0:
                return
            end = position + seg.length
            if offset < end and seg.length:
                skip = offset - position if offset > position else 0
                count = min(seg.length - skip, size)
                yield seg.addr + skip, count
                offset += count
                size -= count
            position = end

    def read(self, offset: int, size: int) -> bytes:
        """Bytes ``[offset, offset + size)`` of the readable part (fewer past its end)."""
        out = bytearray()
        for paddr, count in self._pieces(self.readable, offset, size):
            out += self.memory.read(paddr, count)
        return bytes(out)

    def write(self, offset: int, data: bytes) -> int:
        """Write into the writable part at ``offset``; returns the bytes that fit."""
        done = 0
        view = memoryview(data)
        for paddr, count in self._pieces(self.writable, offset, len(data)):
            self.memory.write(paddr, bytes(view[done:done + count]))
            done += count
        if done:
            self.written = max(self.written, offset + done)
        return done


class Virtqueue:
    """One split virtqueue: the registers the driver programs plus the device's indices."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.reset()

    def reset(self) -> None:
        self.num = 0
        self.ready = False
        self.desc_addr = 0
        self.driver_addr = 0
        self.device_addr = 0
        self.last_avail_idx = 0      # next avail ring entry the device will take
        self.used_idx = 0            # the used ring's idx as the device last wrote it

    # ------------------------------------------------------------------ driver setup

    def set_ready(self, ready: bool) -> None:
        """QueueReady: enabling starts from fresh rings (indices at zero)."""
        if ready and not self.ready:
            self.last_avail_idx = 0
            self.used_idx = 0
        self.ready = ready

    def validate(self) -> None:
        """Raise VirtqueueError unless the programmed size is usable."""
        num = self.num
        if not 0 < num <= self.max_size or num & (num - 1):
            raise VirtqueueError(f"queue size {num} is not a power of two in 1..{self.max_size}")

    # ------------------------------------------------------------------ processing

    def process(self, memory: GuestMemoryAccess, handle: Callable[[DescriptorChain], None],
                indirect: bool) -> int:
        """Complete every newly available buffer; return how many went to the used ring.

        ``handle`` fills the chain (it may raise VirtqueueError too). Each
        buffer is put on the used ring, index included, before the next is
        taken, so an error part-way leaves a consistent ring behind.
        """
        self.validate()
        num = self.num
        # The three areas must lie in RAM before any buffer is touched.
        _check_range(memory, self.desc_addr, VIRTQ_DESC_SIZE * num)
        _check_range(memory, self.driver_addr, VIRTQ_AVAIL_RING + 2 * num + 2)
        _check_range(memory, self.device_addr, VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * num + 2)
        avail_idx = _read_u16(memory, self.driver_addr + VIRTQ_IDX_OFFSET)
        pending = (avail_idx - self.last_avail_idx) & 0xFFFF
        if pending > self.num:
            raise VirtqueueError(f"avail idx moved from {self.last_avail_idx} to {avail_idx}, "
                                 f"more than the queue size {self.num}")
        completed = 0
        while self.last_avail_idx != avail_idx:
            slot = self.last_avail_idx % self.num
            head = _read_u16(memory, self.driver_addr + VIRTQ_AVAIL_RING + 2 * slot)
            chain = DescriptorChain(memory, head, self._walk(memory, head, indirect))
            handle(chain)
            self._push_used(memory, head, chain.written)
            self.last_avail_idx = (self.last_avail_idx + 1) & 0xFFFF
            completed += 1
        return completed

    def _push_used(self, memory: GuestMemoryAccess, head: int, length: int) -> None:
        slot = self.used_idx % self.num
        _write(memory, self.device_addr + VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * slot,
               _USED_ELEM.pack(head, length & 0xFFFF_FFFF))
        self.used_idx = (self.used_idx + 1) & 0xFFFF
        _write(memory, self.device_addr + VIRTQ_IDX_OFFSET, _U16.pack(self.used_idx))

    def _walk(self, memory: GuestMemoryAccess, head: int, indirect: bool) -> list[Segment]:
        """The chain starting at ``head``, every segment checked to lie in RAM."""
        table, size = self.desc_addr, self.num
        if head >= size:
            raise VirtqueueError(f"head descriptor {head} outside a table of {size}")
        segments: list[Segment] = []
        index, visited, in_indirect = head, 0, False
        while True:
            visited += 1
            if visited > size:
                raise VirtqueueError("descriptor chain loops or exceeds its table")
            addr, length, flags, nxt = _DESC.unpack(
                _read(memory, table + VIRTQ_DESC_SIZE * index, VIRTQ_DESC_SIZE))
            if flags & VIRTQ_DESC_F_INDIRECT:
                if not indirect:
                    raise VirtqueueError("indirect descriptor without VIRTIO_F_INDIRECT_DESC")
                if in_indirect or segments or flags & VIRTQ_DESC_F_NEXT:
                    raise VirtqueueError("indirect descriptor inside a chain or a table")
                if length == 0 or length % VIRTQ_DESC_SIZE \
                        or length // VIRTQ_DESC_SIZE > VIRTQ_INDIRECT_MAX:
                    raise VirtqueueError(f"indirect table of {length} bytes")
                _check_range(memory, addr, length)
                table, size = addr, length // VIRTQ_DESC_SIZE
                index, visited, in_indirect = 0, 0, True
                continue
            writable = bool(flags & VIRTQ_DESC_F_WRITE)
            if not writable and segments and segments[-1].writable:
                raise VirtqueueError("device-readable descriptor after a writable one")
            _check_range(memory, addr, length)
            segments.append(Segment(addr, length, writable))
            if not flags & VIRTQ_DESC_F_NEXT:
                return segments
            if nxt >= size:
                raise VirtqueueError(f"next descriptor {nxt} outside a table of {size}")
            index = nxt

    # ------------------------------------------------------------------ snapshots

    def get_state(self) -> dict[str, Any]:
        return {"num": self.num, "ready": self.ready, "desc": self.desc_addr,
                "driver": self.driver_addr, "device": self.device_addr,
                "last_avail_idx": self.last_avail_idx, "used_idx": self.used_idx}

    def set_state(self, state: dict[str, Any]) -> None:
        self.num = state["num"]
        self.ready = state["ready"]
        self.desc_addr = state["desc"]
        self.driver_addr = state["driver"]
        self.device_addr = state["device"]
        self.last_avail_idx = state["last_avail_idx"]
        self.used_idx = state["used_idx"]


# ---------------------------------------------------------------------- memory helpers

def _check_range(memory: GuestMemoryAccess, paddr: int, size: int) -> None:
    if paddr + size > _MASK64 + 1:
        raise VirtqueueError(f"buffer at {paddr:#x} wraps the address space")
    contains = getattr(memory, "contains", None)
    if contains is not None and size and not contains(paddr, size):
        raise VirtqueueError(f"buffer of {size} bytes at {paddr:#x} is outside RAM")


def _read(memory: GuestMemoryAccess, paddr: int, size: int) -> bytes:
    _check_range(memory, paddr, size)
    data = memory.read(paddr, size)
    if len(data) != size:
        raise VirtqueueError(f"short read at {paddr:#x}")
    return data


def _read_u16(memory: GuestMemoryAccess, paddr: int) -> int:
    return _U16.unpack(_read(memory, paddr, 2))[0]


def _write(memory: GuestMemoryAccess, paddr: int, data: bytes) -> None:
    _check_range(memory, paddr, len(data))
    memory.write(paddr, data)
