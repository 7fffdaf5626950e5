"""The checkpoint index file (TRACE.idx): whole-machine states of a trace, every N instructions.

A sidecar of the trace, never part of it: the trace stays the one record of
a run, and the index is a cache that can be deleted, rebuilt, or refused.
Its layout (traces/FORMAT.md, "Checkpoint index") reuses the trace's frame
header and codecs: a preamble, an IHED header frame naming the trace it
belongs to (sha256 and size), then per checkpoint the PAGE frames holding
the RAM pages not stored before and one CKPT frame, and an IEND frame. A file
without IEND was not finished and is refused.

RAM pages are stored once by content: a checkpoint lists only the pages that
changed since the previous one, each as a page number into the file's page
store (nil: the page is zero now), so a page that comes back to an earlier
content, or that several checkpoints share, costs nothing more.

Every map is checked against its field table (rr/log/schema.py) as it is
read, and every frame's crc (page frames when their pages are first read).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgpack

import rr
from rr.log.errors import TraceError
from rr.log.frames import (CODEC_LZ4_BLOCK, CODEC_STORED, FRAME, PREAMBLE, Frame, decompress,
                           frame_crc, pack_frame, parse_frame)
from rr.log.plain import check_plain, unpack_msgpack, unpack_plain
from rr.log.schema import (Field, blob, boolean, hex_digest, integer, read_map, seconds, text)
from rr.monitor.constants import MAX_RAM_SIZE, MAX_TEXT_FIELD, PAGE_SIZE

INDEX_MAGIC = b"\x89rridx\r\n"
INDEX_VERSION = 1
TAG_INDEX_HEAD = b"IHED"
TAG_PAGES = b"PAGE"
TAG_CHECKPOINT = b"CKPT"
TAG_INDEX_END = b"IEND"
PAGES_PER_FRAME = 256                     # 1 MiB of pages before compression
MAX_HARTS = 64
MAX_HART_BYTES = 1 << 16
MAX_CONSOLE_PIECES = 1 << 20
MIB = 1 << 20
INDEX_RAW_LIMITS = {TAG_INDEX_HEAD: 1 * MIB, TAG_PAGES: 2 * MIB,
                    TAG_CHECKPOINT: 64 * MIB, TAG_INDEX_END: 1 * MIB}
END_RESERVE = 4096                        # room kept under the size bound for the IEND frame

HEADER_FIELDS = (
    Field("trace_sha256", hex_digest(64)),
    Field("trace_size", integer()),
    Field("every", integer(1)),
    Field("ram_size", integer(PAGE_SIZE, MAX_RAM_SIZE, PAGE_SIZE)),
    Field("page_size", integer(PAGE_SIZE, PAGE_SIZE)),
    Field("hart_bytes", integer(1, MAX_HART_BYTES)),
    Field("rrvm_version", text(MAX_TEXT_FIELD)),
    Field("created", seconds),
)
END_FIELDS = (
    Field("checkpoints", integer(1)),
    Field("pages", integer()),
    Field("last_icount", integer()),
    Field("complete", boolean),               # False: the size bound stopped it early
)


def _harts(value: Any, what: str) -> list[bytes]:
    if type(value) is not list or not 1 <= len(value) <= MAX_HARTS:
        raise TraceError(f"{what} is not an array of 1 to {MAX_HARTS} harts")
    check = blob(MAX_HART_BYTES)
    return [check(item, f"{what} item {n}") for n, item in enumerate(value)]


def _machine(value: Any, what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise TraceError(f"{what} is not a map")
    check_plain(value, what)
    for key in ("board", "inputs", "loop"):
        if type(value.get(key)) is not dict:
            raise TraceError(f"{what} has no map {key!r}")
    return value


def _pairs(value: Any, what: str) -> list[list[Any]]:
    if type(value) is not list:
        raise TraceError(f"{what} is not an array")
    for n, item in enumerate(value):
        if type(item) is not list or len(item) != 2 or type(item[0]) is not int:
            raise TraceError(f"{what} item {n} is not a pair")
    return value


CHECKPOINT_FIELDS = (
    Field("icount", integer()),
    Field("harts", _harts),
    Field("machine", _machine),
    Field("state_hash", hex_digest(64)),
    Field("pages", _pairs),                   # [page offset, page number or nil]
    Field("console", _pairs),                 # [icount, bytes] written since the previous one
)


@dataclass
class IndexCheckpoint:
    """One checkpoint as stored: its state (without RAM) and its page changes."""

    icount: int
    harts: list[bytes]
    machine: dict[str, Any]
    state_hash: str
    pages: list[list[Any]]
    console: list[list[Any]]

    def to_plain(self) -> dict[str, Any]:
        return {"icount": self.icount, "harts": self.harts, "machine": self.machine,
                "state_hash": self.state_hash, "pages": self.pages, "console": self.console}


@dataclass(frozen=True)
class PageFrame:
    offset: int          # of the frame header
    first: int           # number of its first page
    count: int


@dataclass
class IndexHeader:
    trace_sha256: str
    trace_size: int
    every: int
    ram_size: int
    page_size: int
    hart_bytes: int
    rrvm_version: str = rr.__version__
    created: float = field(default_factory=time.time)

    def to_plain(self) -> dict[str, Any]:
        return {"trace_sha256": self.trace_sha256, "trace_size": self.trace_size,
                "every": self.every, "ram_size": self.ram_size, "page_size": self.page_size,
                "hart_bytes": self.hart_bytes, "rrvm_version": self.rrvm_version,
                "created": float(self.created)}


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(sha256 hex, size) of a file: what binds an index to its trace."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


# ---------------------------------------------------------------------------- writing

class IndexFileWriter:
    """Writes an index to a temporary file next to ``path``; ``finish`` renames it there.

    ``max_size``: the file never grows past it; a checkpoint that would not
    fit is refused (``add`` returns False) and the index ends before it.
    """

    def __init__(self, path: str | os.PathLike[str], header: IndexHeader, max_size: int) -> None:
        self.path = Path(path)
        self.max_size = max_size
        self._temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self._file: BinaryIO | None = open(self._temporary, "wb")
        except OSError as exc:
            raise TraceError(f"cannot write the checkpoint index ({exc.strerror})",
                             self.path) from None
        self._pages: dict[bytes, int] = {}
        self.checkpoints = 0
        self.last_icount = 0
        self.full = False
        self._write(PREAMBLE.pack(INDEX_MAGIC, INDEX_VERSION, 0)
                    + pack_frame(TAG_INDEX_HEAD, _pack(header.to_plain()), CODEC_STORED))

    @property
    def size(self) -> int:
        return self._file.tell() if self._file is not None else 0

    def add(self, checkpoint: IndexCheckpoint, contents: dict[int, bytes]) -> bool:
        """Store a checkpoint whose changed pages (``checkpoint.pages`` offsets) hold
        ``contents``; False (nothing written) when the size bound is reached."""
        if self.full:
            return False
        new: list[bytes] = []
        known = dict(self._pages)
        pairs = []
        for offset in sorted(contents):
            data = contents[offset]
            if not any(data):
                pairs.append([offset, None])
                continue
            key = hashlib.blake2b(data, digest_size=16).digest()
            number = known.get(key)
            if number is None:
                number = known[key] = len(known)
                new.append(data)
            pairs.append([offset, number])
        checkpoint.pages = pairs
        first = len(self._pages)
        frames = [pack_frame(TAG_PAGES, _pack(new[i:i + PAGES_PER_FRAME]), CODEC_LZ4_BLOCK,
                             len(new[i:i + PAGES_PER_FRAME]), first + i)
                  for i in range(0, len(new), PAGES_PER_FRAME)]
        frames.append(pack_frame(TAG_CHECKPOINT, _pack(checkpoint.to_plain()), CODEC_LZ4_BLOCK,
                                 0, checkpoint.icount))
        if self.size + sum(map(len, frames)) + END_RESERVE > self.max_size:
            self.full = True
            return False
        self._write(b"".join(frames))
        self._pages = known
        self.checkpoints += 1
        self.last_icount = checkpoint.icount
        return True

    def finish(self, complete: bool) -> Path:
        """Write the end frame and put the file in place (atomically)."""
        end = {"checkpoints": self.checkpoints, "pages": len(self._pages),
               "last_icount": self.last_icount, "complete": complete and not self.full}
        self._write(pack_frame(TAG_INDEX_END, _pack(end), CODEC_STORED))
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        os.replace(self._temporary, self.path)
        return self.path

    def abandon(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._temporary.unlink(missing_ok=True)

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)


def _pack(value: Any) -> bytes:
    check_plain(value, "index data")
    return msgpack.packb(value, use_bin_type=True)


# ---------------------------------------------------------------------------- reading

class IndexFile:
    """A checked index: its header, checkpoints and where its pages are.

    Raises TraceError (naming the file and offset) for anything that is not a
    whole, valid index of the format."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.file_size = 0
        self.header: IndexHeader
        self.checkpoints: list[IndexCheckpoint] = []
        self.page_frames: list[PageFrame] = []
        self.end: dict[str, Any] = {}
        self._cache: tuple[int, list[bytes]] | None = None
        try:
            self._file = open(self.path, "rb")
        except OSError as exc:
            raise TraceError(f"cannot open index ({exc.strerror})", self.path) from None
        try:
            self._scan()
        except TraceError as exc:
            self._file.close()
            raise TraceError(exc.what, self.path, exc.offset) from None

    def close(self) -> None:
        self._file.close()

    @property
    def page_count(self) -> int:
        return sum(frame.count for frame in self.page_frames)

    @property
    def complete(self) -> bool:
        return self.end["complete"]

    def _scan(self) -> None:
        f = self._file
        self.file_size = os.fstat(f.fileno()).st_size
        preamble = f.read(PREAMBLE.size)
        if len(preamble) < PREAMBLE.size or preamble[:8] != INDEX_MAGIC:
            raise TraceError("not an rrvm checkpoint index (bad magic at offset 0)")
        _, version, _ = PREAMBLE.unpack(preamble)
        if version != INDEX_VERSION:
            raise TraceError(f"index format version {version}, this rrvm reads {INDEX_VERSION}")
        offset = PREAMBLE.size
        pages = 0
        while offset < self.file_size:
            frame, head = self._frame(offset)
            tag = frame.tag
            payload = b"" if tag == TAG_PAGES else self._payload(frame, head)
            if offset == PREAMBLE.size and tag != TAG_INDEX_HEAD:
                raise TraceError("the index does not start with its header", offset=offset)
            if tag == TAG_INDEX_HEAD:
                if offset != PREAMBLE.size:
                    raise TraceError("a second index header", offset=offset)
                self.header = IndexHeader(**read_map(unpack_plain(payload, "index header"),
                                                     HEADER_FIELDS, "index header"))
            elif tag == TAG_PAGES:
                if frame.first_icount != pages or not 1 <= frame.count <= PAGES_PER_FRAME:
                    raise TraceError("page frame out of sequence", offset=offset)
                self.page_frames.append(PageFrame(offset, pages, frame.count))
                pages += frame.count
            elif tag == TAG_CHECKPOINT:
                self.checkpoints.append(self._checkpoint(payload, pages, frame.first_icount))
            else:                                   # IEND
                self.end = read_map(unpack_plain(payload, "index end"), END_FIELDS, "index end")
                if frame.end != self.file_size:
                    raise TraceError("data after the end frame", offset=frame.end)
                if self.end["checkpoints"] != len(self.checkpoints) or self.end["pages"] != pages:
                    raise TraceError("the end frame's counts do not match the frames")
            offset = frame.end
        if not self.end:
            raise TraceError("the index was not finished (no end frame)", offset=offset)
        if not self.checkpoints:
            raise TraceError("the index holds no checkpoint")

    def _checkpoint(self, payload: bytes, pages: int, icount: int) -> IndexCheckpoint:
        values = read_map(unpack_plain(payload, "checkpoint"), CHECKPOINT_FIELDS, "checkpoint")
        checkpoint = IndexCheckpoint(**values)
        what = f"checkpoint at instruction {checkpoint.icount}"
        if checkpoint.icount != icount:
            raise TraceError(f"{what} is filed under instruction {icount}")
        if self.checkpoints and checkpoint.icount <= self.checkpoints[-1].icount:
            raise TraceError(f"{what} is out of order")
        ram_size = self.header.ram_size
        for offset, number in checkpoint.pages:
            if not (0 <= offset < ram_size and offset % PAGE_SIZE == 0) or \
                    not (number is None or (type(number) is int and 0 <= number < pages)):
                raise TraceError(f"{what} names page {number} at RAM offset {offset}")
        for at, data in checkpoint.console:
            if type(data) is not bytes or not 0 <= at <= checkpoint.icount:
                raise TraceError(f"{what} has console output at instruction {at}")
        if len(checkpoint.console) > MAX_CONSOLE_PIECES:
            raise TraceError(f"{what} has too much console output")
        return checkpoint

    def _frame(self, offset: int) -> tuple[Frame, bytes]:
        """The frame at ``offset``, checked as far as its header goes, and its header bytes."""
        f = self._file
        f.seek(offset)
        head = f.read(FRAME.size)
        if len(head) < FRAME.size:
            raise TraceError("truncated frame header", offset=offset)
        frame = parse_frame(offset, head)
        if frame.tag not in INDEX_RAW_LIMITS or frame.codec not in (CODEC_STORED,
                                                                    CODEC_LZ4_BLOCK):
            raise TraceError(f"unknown frame {frame.tag!r}", offset=offset)
        if frame.end > self.file_size:
            raise TraceError("truncated frame", offset=offset)
        return frame, head

    def _payload(self, frame: Frame, head: bytes) -> bytes:
        """The frame's payload, crc checked and inflated within its tag's limit."""
        self._file.seek(frame.payload_offset)
        stored = self._file.read(frame.stored_size)
        if frame_crc(head, stored) != frame.crc:
            raise TraceError(f"bad crc in {frame.tag.decode()} frame", offset=frame.offset)
        if frame.codec == CODEC_STORED:
            if frame.stored_size != frame.raw_size:
                raise TraceError("stored frame with two sizes", offset=frame.offset)
            return stored
        return decompress(stored, frame.raw_size, INDEX_RAW_LIMITS[frame.tag])

    # --- pages ----------------------------------------------------------------
    def page_table(self, number: int) -> dict[int, int]:
        """RAM offset -> page number of every non-zero page at checkpoint ``number``."""
        table: dict[int, int] = {}
        for checkpoint in self.checkpoints[:number + 1]:
            for offset, page in checkpoint.pages:
                if page is None:
                    table.pop(offset, None)
                else:
                    table[offset] = page
        return table

    def pages(self, table: dict[int, int]) -> dict[int, bytes]:
        """The contents of ``table``'s pages (each page frame read and checked once)."""
        by_frame: dict[int, list[tuple[int, int]]] = {}
        starts = [frame.first for frame in self.page_frames]
        for offset, number in table.items():
            k = bisect.bisect_right(starts, number) - 1
            by_frame.setdefault(k, []).append((offset, number))
        contents = {}
        for k, wanted in by_frame.items():
            frame = self.page_frames[k]
            data = self._page_frame(frame)
            for offset, number in wanted:
                contents[offset] = data[number - frame.first]
        return contents

    def _page_frame(self, frame: PageFrame) -> list[bytes]:
        if self._cache is not None and self._cache[0] == frame.offset:
            return self._cache[1]
        try:
            payload = self._payload(*self._frame(frame.offset))
        except TraceError as exc:
            raise TraceError(exc.what, self.path, exc.offset) from None
        value = unpack_msgpack(payload, "page frame", max_array_len=PAGES_PER_FRAME,
                               max_bin_len=PAGE_SIZE)
        if type(value) is not list or len(value) != frame.count or \
                any(type(page) is not bytes or len(page) != PAGE_SIZE for page in value):
            raise TraceError(f"page frame does not hold {frame.count} pages", self.path,
                             frame.offset)
        self._cache = (frame.offset, value)
        return value

