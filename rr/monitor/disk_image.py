"""A disk image file as the guest's block device, with a copy-on-write overlay.

The user's file is opened read-only unless ``writable=True``: every sector the
guest writes goes to an in-memory overlay (a dict of 512-byte sectors), and
reads see the overlay first, then the file. So a recorded run never changes
the image it was recorded from, and replaying it starts from the same bytes.
With ``writable=True`` guest writes also go through to the file; the overlay
is kept even then, because it is what checkpoints capture and restore (the
file cannot be rewound), and the guest reads the file's original bytes (kept
for every sector written through) plus the overlay, so a restored checkpoint
sees the disk as it was at that point, not the file's later contents.

The guest sees ``sectors`` 512-byte sectors: the file size rounded up, the
tail past the end of the file reading as zeros (QEMU rounds the same way).
``sha256`` hashes the file as it was when first asked (computed once,
streaming; in writable mode before the first write-through), for the trace.

A replay never opens the user's file for writing: it boots from the bytes
the trace embeds (``DiskImage.from_bytes``) or from the recorded path checked
against the recorded hash (``open_recorded_disk``), each time with a fresh,
empty overlay.

The overlay state is plain data (``get_state``): a sorted list of runs
``[first_sector, bytes]`` of consecutive written sectors. It is held in
memory and copied whole into every checkpoint, which is fine for the small
disks of test guests; a large write-heavy workload would want a sidecar file.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any

from rr.errors import RrError
from rr.monitor.constants import VIRTIO_BLK_SECTOR_SIZE

SECTOR = VIRTIO_BLK_SECTOR_SIZE
_HASH_CHUNK = 1 << 20


class DiskError(RrError):
    """A disk image that cannot be opened, or is not the one a trace was recorded with."""


class DiskImage:
    """The backing store of a virtio-blk device: a file, or bytes held in memory."""

    def __init__(self, path: str | os.PathLike, writable: bool = False,
                 contents: bytes | None = None) -> None:
        """Open the file at ``path``, or, given ``contents``, serve those bytes
        (read-only; ``path`` is then only a name for messages)."""
        self.path = os.fspath(path)
        if contents is not None and writable:
            raise ValueError("an in-memory disk image cannot write through")
        self.writable = writable
        self._contents = contents
        if contents is None:
            self._fd = os.open(self.path, (os.O_RDWR if writable else os.O_RDONLY)
                               | getattr(os, "O_BINARY", 0))
            self.size = os.fstat(self._fd).st_size      # bytes in the file when opened
        else:
            self._fd = -1
            self.size = len(contents)
        self.sectors = (self.size + SECTOR - 1) // SECTOR
        self.overlay: dict[int, bytes] = {}
        # Writable: what each sector held before its first write-through. The
        # guest always sees these plus the overlay, never the file's newer
        # bytes, so restoring an older overlay (a checkpoint) is exact even
        # though the file cannot be rewound.
        self._written_through: dict[int, bytes] = {}
        self._sha256: str | None = None

    @classmethod
    def from_bytes(cls, data: bytes, path: str = "") -> "DiskImage":
        """A read-only image of ``data`` (a replay's embedded disk); ``path`` is for display."""
        return cls(path, contents=bytes(data))

    # ------------------------------------------------------------------ identity

    @property
    def sha256(self) -> str:
        """Hex sha256 of the file's contents (computed once, by 1 MiB chunks)."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            offset = 0
            while offset < self.size:
                chunk = self._pread(min(_HASH_CHUNK, self.size - offset), offset)
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
        return _layered(self._original_sectors(sector, count), self.overlay, sector)

    def _original_sectors(self, sector: int, count: int) -> bytes:
        """The sectors as they were before any write went through to the file."""
        return _layered(self._read_file(sector * SECTOR, count * SECTOR),
                        self._written_through, sector)

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
            for n in range(count):
                if sector + n not in self._written_through:
                    self._written_through[sector + n] = self._read_file((sector + n) * SECTOR,
                                                                        SECTOR)
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
                chunk = self._pread(want, offset)
                if not chunk:
                    break      # the file shrank behind our back: the rest reads as zeros
                parts.append(chunk)
                offset += len(chunk)
                want -= len(chunk)
            data = b"".join(parts)
        return data + bytes(size - len(data))

    def _pread(self, size: int, offset: int) -> bytes:
        if self._contents is not None:
            return self._contents[offset:offset + size]
        return os.pread(self._fd, size, offset)

    def original_bytes(self) -> bytes:
        """The whole image as it was before any guest write (for embedding in a trace)."""
        return self._original_sectors(0, self.sectors)[:self.size]

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


def _layered(base: bytes, layer: dict[int, bytes], sector: int) -> bytes:
    """``base`` (whole sectors from ``sector`` on) with the sectors ``layer`` holds put over it."""
    if not layer:
        return base
    out = bytearray(base)
    for n in range(len(base) // SECTOR):
        data = layer.get(sector + n)
        if data is not None:
            out[n * SECTOR:(n + 1) * SECTOR] = data
    return bytes(out)


# ---------------------------------------------------------------------- opening for the board

def open_disk(path: str | os.PathLike, writable: bool = False) -> DiskImage:
    """The user's disk image file (``--disk``), hashed; any problem is one line naming it."""
    name = os.fspath(path)
    try:
        mode = os.stat(name).st_mode
        if stat.S_ISDIR(mode):
            raise DiskError(f"disk image {name}: is a directory")
        if not stat.S_ISREG(mode):
            raise DiskError(f"disk image {name}: not a regular file")
        disk = DiskImage(name, writable)
    except FileNotFoundError:
        raise DiskError(f"disk image {name}: no such file") from None
    except OSError as exc:
        raise DiskError(f"disk image {name}: {exc.strerror}") from None
    if disk.size == 0:
        disk.close()
        raise DiskError(f"disk image {name}: file is empty")
    try:
        disk.sha256  # noqa: B018 - read it all once now: an unreadable file fails here
    except OSError as exc:
        disk.close()
        raise DiskError(f"disk image {name}: {exc.strerror}") from None
    return disk


def open_recorded_disk(path: str, sha256: str, size: int) -> DiskImage:
    """The disk a trace references by path, read-only, checked against the recorded hash.

    The path comes from the trace, so it is treated as hostile: only a regular
    file of the recorded size is opened and hashed, and a refusal never shows
    the hash of a file that does not match (it would disclose a digest of
    whatever file the trace named).
    """
    suffix = "(the trace refers to its disk image by path)"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DiskError(f"disk image {path}: no such file {suffix}") from None
    except OSError as exc:
        raise DiskError(f"disk image {path}: {exc.strerror} {suffix}") from None
    if not stat.S_ISREG(info.st_mode):
        raise DiskError(f"disk image {path}: not a regular file {suffix}")
    if info.st_size != size:
        raise DiskError(f"disk image {path} is not the one recorded: {info.st_size} bytes, "
                        f"the trace expects {size} {suffix}")
    try:
        disk = open_disk(path)
    except DiskError as exc:
        raise DiskError(f"{exc} {suffix}") from None
    if disk.size != size or disk.sha256 != sha256:
        disk.close()
        raise DiskError(f"disk image {path} has changed since the recording: its sha256 "
                        f"differs from the recorded {sha256} {suffix}")
    return disk
