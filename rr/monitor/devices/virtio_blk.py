"""virtio-blk (device id 2, virtio 1.x section 5.2) over a ``DiskImage``.

One request queue. A request is a 16-byte header the device reads (type,
reserved, sector), data (read for OUT, written for IN and GET_ID) and a
status byte, the last byte of the writable part. Any framing of those bytes
across descriptors is accepted. Served: IN, OUT, FLUSH and GET_ID (the id is
``rrvm-disk``); anything else answers UNSUPP. Requests are completed inside
the guest's QueueNotify write, so disk contents reach RAM at an exact
instruction.

Features offered: SEG_MAX, BLK_SIZE (512), FLUSH, RO when ``read_only`` (an
OUT then answers IOERR), plus the transport's VERSION_1 and INDIRECT_DESC.
No EVENT_IDX (every completion interrupts), no write cache toggling, no
discard. A request with no room for the header or the status byte is a
malformed queue (DEVICE_NEEDS_RESET, as QEMU treats it).

The disk's overlay is part of this device's state, so a checkpoint of the
board captures the disk contents the guest has written.
"""

from __future__ import annotations

import struct
from typing import Any

from rr.monitor.constants import (
    VIRTIO_BLK_CFG_BLK_SIZE, VIRTIO_BLK_CFG_CAPACITY, VIRTIO_BLK_CFG_NUM_QUEUES,
    VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_CFG_SIZE, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH,
    VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_HEADER_SIZE, VIRTIO_BLK_ID,
    VIRTIO_BLK_ID_BYTES, VIRTIO_BLK_QUEUE_SIZE, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK,
    VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_SECTOR_SIZE, VIRTIO_BLK_SEG_MAX, VIRTIO_BLK_T_FLUSH,
    VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_ID_BLOCK, VIRTIO_STRIDE,
)
from rr.monitor.devices.device import IrqLine
from rr.monitor.devices.virtio_mmio import VirtioMmioDevice
from rr.monitor.devices.virtio_queue import DescriptorChain, GuestMemoryAccess, VirtqueueError
from rr.monitor.disk_image import DiskImage

_HEADER = struct.Struct("<IIQ")
SECTOR = VIRTIO_BLK_SECTOR_SIZE


class VirtioBlk(VirtioMmioDevice):
    """A virtio block device in virtio-mmio slot ``index``."""

    name = "virtio_blk"
    device_id = VIRTIO_ID_BLOCK
    queue_sizes = (VIRTIO_BLK_QUEUE_SIZE,)

    def __init__(self, base: int, index: int, irq: IrqLine, memory: GuestMemoryAccess,
                 disk: DiskImage, read_only: bool = False, size: int = VIRTIO_STRIDE) -> None:
        self.disk = disk
        self.read_only = read_only
        super().__init__(base, index, irq, memory, size)
        self._config = self._build_config()

    def _build_config(self) -> bytes:
        config = bytearray(VIRTIO_BLK_CFG_SIZE)
        struct.pack_into("<Q", config, VIRTIO_BLK_CFG_CAPACITY, self.disk.sectors)
        struct.pack_into("<I", config, VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX)
        struct.pack_into("<I", config, VIRTIO_BLK_CFG_BLK_SIZE, SECTOR)
        struct.pack_into("<H", config, VIRTIO_BLK_CFG_NUM_QUEUES, 1)
        return bytes(config)

    # ------------------------------------------------------------------ device hooks

    def device_features(self) -> int:
        features = (1 << VIRTIO_BLK_F_SEG_MAX) | (1 << VIRTIO_BLK_F_BLK_SIZE) \
            | (1 << VIRTIO_BLK_F_FLUSH)
        if self.read_only:
            features |= 1 << VIRTIO_BLK_F_RO
        return features

    def config_space(self) -> bytes:
        return self._config

    def handle_chain(self, queue: int, chain: DescriptorChain) -> None:
        if chain.readable_len < VIRTIO_BLK_HEADER_SIZE or chain.writable_len < 1:
            raise VirtqueueError("virtio-blk request without a header or a status byte")
        kind, _reserved, sector = _HEADER.unpack(chain.read(0, VIRTIO_BLK_HEADER_SIZE))
        status_at = chain.writable_len - 1      # data in front of the status byte
        if kind == VIRTIO_BLK_T_IN:
            status = self._read(chain, sector, status_at)
        elif kind == VIRTIO_BLK_T_OUT:
            status = self._write(chain, sector, chain.readable_len - VIRTIO_BLK_HEADER_SIZE)
        elif kind == VIRTIO_BLK_T_FLUSH:
            status = self._flush()
        elif kind == VIRTIO_BLK_T_GET_ID:
            ident = VIRTIO_BLK_ID.ljust(VIRTIO_BLK_ID_BYTES, b"\0")
            chain.write(0, ident[:status_at])
            status = VIRTIO_BLK_S_OK
        else:
            status = VIRTIO_BLK_S_UNSUPP
        chain.write(status_at, bytes([status]))

    # ------------------------------------------------------------------ requests

    def _sectors(self, sector: int, length: int) -> int | None:
        """Sector count of a transfer, None unless whole sectors inside the disk."""
        if length % SECTOR:
            return None
        count = length // SECTOR
        return count if self.disk.in_range(sector, count) else None

    def _read(self, chain: DescriptorChain, sector: int, length: int) -> int:
        count = self._sectors(sector, length)
        if count is None:
            return VIRTIO_BLK_S_IOERR
        try:
            data = self.disk.read_sectors(sector, count)
        except OSError:
            return VIRTIO_BLK_S_IOERR
        chain.write(0, data)
        return VIRTIO_BLK_S_OK

    def _write(self, chain: DescriptorChain, sector: int, length: int) -> int:
        count = self._sectors(sector, length)
        if self.read_only or count is None:
            return VIRTIO_BLK_S_IOERR
        data = chain.read(VIRTIO_BLK_HEADER_SIZE, length)
        try:
            self.disk.write_sectors(sector, data)
        except OSError:
            return VIRTIO_BLK_S_IOERR
        return VIRTIO_BLK_S_OK

    def _flush(self) -> int:
        try:
            self.disk.flush()
        except OSError:
            return VIRTIO_BLK_S_IOERR
        return VIRTIO_BLK_S_OK

    # ------------------------------------------------------------------ snapshots

    def device_state(self) -> dict[str, Any]:
        return {"disk": self.disk.get_state()}

    def set_device_state(self, state: dict[str, Any]) -> None:
        self.disk.set_state(state["disk"])
