"""A disk image file as the guest's block device, with a copy-on-write overlay.

The user's file is opened read-only unless ``writable=True``: every sector the
guest writes goes to an in-memory overlay (a dict of 512-byte sectors), and
reads see the overlay first, then the file. So a recorded run never changes
the image it was recorded from, and replaying it starts from the same bytes.
With ``writable=True`` guest writes also go through to the file; the overlay
is kept even then, because it is what checkpoints capture and restore (the
file cannot be rewound).

The guest sees ``sectors`` 512-byte sectors: the file size rounded up, the
tail past the end of the file reading as zeros (QEMU rounds the same way).
``sha256`` hashes the file as it was when first asked (computed once,
streaming; in writable mode before the first write-through), for the trace.

The overlay state is plain data (``get_state``): a sorted list of runs
``[first_sector, bytes]`` of consecutive written sectors. It is held in
memory and copied whole into every checkpoint, which is fine for the small
disks of test guests; a large write-heavy workload would want a sidecar file.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from rr.monitor.constants import VIRTIO_BLK_SECTOR_SIZE

SECTOR = VIRTIO_BLK_SECTOR_SIZE
_HASH_CHUNK = 1 << 20


class DiskImage:
    """The backing store of a virtio-blk device."""

    def __init__(self, path: str | os.PathLike, writable: bool = False) -> None:
        self.path = os.fspath(path)
        self.writable = writable
        self._fd = os.open(self.path, (os.O_RDWR if writable else os.O_RDONLY)
                           | getattr(os, "O_BINARY", 0))
        self.size = os.fstat(self._fd).st_size          # bytes in the file when opened
        self.sectors = (self.size + SECTOR - 1) // SECTOR
        self.overlay: dict[int, bytes] = {}
        self._sha256: str | None = None

    # ------------------------------------------------------------------ identity

    @property
    def sha256(self) -> str:
        """Hex sha256 of the file's contents (computed once, by 1 MiB chunks)."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            offset = 0
            while offset < self.size:
                chunk = os.pread(self._fd, min(_HASH_CHUNK, self.size - offset), offset)
                if not chunk:
                    break
                digest.update(chunk)
                offset += len(chunk)
            self._sha256 = digest.hexdigest()
        return self._sha256

    # ------------------------------------------------------------------ sector access

    def in_range(self, sector: int, count: int) -> bool:
        return sector >= 0 and count >= 0 and sector + count <= self.sectors

    def read_sectors(self, sector: int, count: int) -> bytes:
        """``count`` sectors from ``sector``: the overlay where written, else the file."""
        if not self.in_range(sector, count):
            raise ValueError(f"sectors {sector}..{sector + count} outside a disk of {self.sectors}")
        out = bytearray(self._read_file(sector * SECTOR, count * SECTOR))
        if self.overlay:
            for n in range(count):
                data = self.overlay.get(sector + n)
                if data is not None:
                    out[n * SECTOR:(n + 1) * SECTOR] = data
        return bytes(out)

    def write_sectors(self, sector: int, data: bytes) -> None:
        """Write whole sectors into the overlay (and through to the file if writable)."""
        if len(data) % SECTOR:
            raise ValueError(f"write of {len(data)} bytes is not a whole number of sectors")
        count = len(data) // SECTOR
        if not self.in_range(sector, count):
            raise ValueError(f"sectors {sector}..{sector + count} outside a disk of {self.sectors}")
        for n in range(count):
            self.overlay[sector + n] = bytes(data[n * SECTOR:(n + 1) * SECTOR])
        if self.writable and data:
            self.sha256  # noqa: B018 - hash the original contents before changing them
            offset = sector * SECTOR
            inside = data[:max(0, self.size - offset)]     # never grow the user's file
            if inside:
                os.pwrite(self._fd, inside, offset)

    def read(self, offset: int, size: int) -> bytes:
        """Bytes at any offset, as the guest would see them (for tools and tests)."""
        first, last = offset // SECTOR, (offset + size + SECTOR - 1) // SECTOR
        data = self.read_sectors(first, last - first)
        start = offset - first * SECTOR
        return data[start:start + size]

    def flush(self) -> None:
        """Make written data durable: fsync the file when writes go through to it."""
        if self.writable:
            os.fsync(self._fd)

    def _read_file(self, offset: int, size: int) -> bytes:
        """File bytes, zeros past its end (the last sector may be partial)."""
        data = b""
        if offset < self.size:
            want = min(size, self.size - offset)
            parts = []
            while want > 0:
                chunk = os.pread(self._fd, want, offset)
                if not chunk:
                    break      # the file shrank behind our back: the rest reads as zeros
                parts.append(chunk)
                offset += len(chunk)
                want -= len(chunk)
            data = b"".join(parts)
        return data + bytes(size - len(data))

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "DiskImage":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ------------------------------------------------------------------ snapshots

    def get_state(self) -> dict[str, Any]:
        """The overlay as sorted runs ``[first_sector, data]`` of consecutive sectors."""
        runs: list[list[Any]] = []
        start, parts, expected = None, [], None
        for sector in sorted(self.overlay):
            if sector != expected:
                if parts:
                    runs.append([start, b"".join(parts)])
                start, parts = sector, []
            parts.append(self.overlay[sector])
            expected = sector + 1
        if parts:
            runs.append([start, b"".join(parts)])
        return {"overlay": runs}

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the overlay (the file itself is never rewritten)."""
        overlay: dict[int, bytes] = {}
        for start, data in state["overlay"]:
            for n in range(len(data) // SECTOR):
                overlay[start + n] = bytes(data[n * SECTOR:(n + 1) * SECTOR])
        self.overlay = overlay
