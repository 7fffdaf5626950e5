"""Reading a trace, complete or not, trusting none of its bytes.

A complete trace opens in O(1): preamble, header, then the trailer at the end
points at the index and the footer. A trace whose writer died has no trailer
(or a torn one): the reader then walks the frames from the start, keeps every
whole chunk, and reports the trace as incomplete, because a crash must cost
the last second of a recording, not all of it.

Every size is checked before it is used (against the file size and against
per-frame limits), every payload against its crc32, every decompression
against its declared size, and every decoded value against the schema in
traces/FORMAT.md. Whatever the bytes, the only exception that leaves this
module is a TraceError naming the file and the offset.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from rr.log.errors import (TraceCorrupt, TraceError, TraceTruncated, TraceVersionError)
from rr.log.events import Event, decode_event, tags_for
from rr.log.frames import (CODEC_LZ4_BLOCK, CODEC_STORED, FORMAT_VERSION, FRAME, FRAME_TAGS,
                           MAGIC, PREAMBLE, RAW_LIMITS, TAG_CHUNK, TAG_FOOTER, TAG_HEAD,
                           TAG_INDEX, TRAILER, Frame, decompress, frame_crc, parse_frame,
                           parse_trailer)
from rr.log.header import TraceHeader
from rr.log.index import (ChunkInfo, TraceFooter, check_chunk_order, chunks_in_range,
                          index_from_plain)
from rr.log.plain import unpack_msgpack, unpack_plain
from rr.monitor.constants import MAX_CHUNK_EVENTS, MAX_EVENT_BYTES, MAX_TEXT_FIELD

HEADER_OFFSET = PREAMBLE.size
_FRAME_NAMES = {TAG_HEAD: "header frame", TAG_INDEX: "index frame", TAG_FOOTER: "footer frame"}
_ZERO_SCAN_BLOCK = 1 << 20
# What a chunk payload may hold, enforced by msgpack while it decodes: arrays
# of events (records are short arrays), bytes and strings of events, no maps.
_CHUNK_DECODING = {"max_array_len": MAX_CHUNK_EVENTS, "max_map_len": 0, "max_ext_len": 0,
                   "max_bin_len": MAX_EVENT_BYTES, "max_str_len": MAX_TEXT_FIELD}


class TraceReader:
    """An open trace: header, index, footer, and the events on demand.

    ``strict=True`` refuses anything short of a complete, intact trace;
    the default keeps what can be trusted and lists what was not in ``problems``.
    """

    def __init__(self, path: str | os.PathLike[str], *, strict: bool = False) -> None:
        self.path = Path(path)
        self.strict = strict
        self.problems: list[str] = []
        self._footer: TraceFooter | None = None
        self._index: list[ChunkInfo] = []
        self._chunk_area_end: int | None = None   # where chunks end, per an intact trailer
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise TraceError(f"cannot open trace ({exc.strerror})", self.path) from None
        try:
            self.size = os.fstat(self._fd).st_size
            self.format_version = self._read_preamble()
            self.header, self.data_start = self._read_header()
            self._read_end()
        except BaseException:
            self.close()
            raise

    # -- public API ---------------------------------------------------------------

    @property
    def footer(self) -> TraceFooter | None:
        """How the run ended, or None when the writer never finished."""
        return self._footer

    @property
    def complete(self) -> bool:
        return self._footer is not None

    @property
    def index(self) -> list[ChunkInfo]:
        """Every readable chunk, in file (and instruction count) order."""
        return list(self._index)

    @property
    def event_count(self) -> int:
        return sum(chunk.event_count for chunk in self._index)

    @property
    def last_icount(self) -> int | None:
        """Instruction count of the last readable event (None: no events)."""
        return self._index[-1].last_icount if self._index else None

    def chunks(self) -> Iterator[ChunkInfo]:
        return iter(self._index)

    def chunk_events(self, chunk: ChunkInfo) -> list[Event]:
        """All events of one chunk, verified against its crc, sizes and index entry."""
        where = _chunk_name(chunk.number, chunk.offset)
        try:
            frame, raw = self._load(chunk.offset, TAG_CHUNK, chunk.number)
        except TraceTruncated as exc:   # the index (or an earlier scan) saw it whole: damage
            detail = exc.what.removeprefix("truncated trace: ")
            raise TraceCorrupt(f"damaged trace: {detail} (its index entry said it was whole)",
                               self.path) from None
        if (frame.count, frame.first_icount, frame.last_icount, frame.stored_size,
                frame.raw_size) != (chunk.event_count, chunk.first_icount, chunk.last_icount,
                                    chunk.stored_size, chunk.raw_size):
            raise TraceCorrupt(f"{where} does not match its index entry", self.path)
        try:
            records = unpack_msgpack(raw, "payload", **_CHUNK_DECODING)
            return _decode_records(records, frame)
        except TraceError as exc:
            raise TraceCorrupt(f"{where}: {exc.what}", self.path) from None

    def events(self, kinds: Iterable[str | type[Event]] | str | None = None,
               start: int | None = None, end: int | None = None) -> Iterator[Event]:
        """Events with start <= icount < end, of the given kinds (names or classes), in order.

        Kind names are checked now, not at the first event, so a typo fails
        before anything is printed.
        """
        if isinstance(kinds, str):
            kinds = [kinds]
        tags = tags_for(kinds) if kinds is not None else None
        return self._events(tags, start, end)

    def _events(self, tags: frozenset[int] | None, start: int | None,
                end: int | None) -> Iterator[Event]:
        for chunk in chunks_in_range(self._index, start, end):
            for event in self.chunk_events(chunk):
                if start is not None and event.icount < start:
                    continue
                if end is not None and event.icount >= end:
                    return
                if tags is None or event.TAG in tags:
                    yield event

    def embedded_bytes(self, role: str) -> bytes | None:
        """Original bytes of the embedded 'image', 'initrd' or 'dtb' (size, sha256 checked)."""
        embedded = self.header.embedded(role)
        if embedded is None:
            return None
        try:
            return embedded.data()
        except TraceError as exc:
            raise TraceCorrupt(f"header frame at offset {HEADER_OFFSET}: {exc.what}",
                               self.path) from None

    def image_bytes(self) -> bytes | None:
        return self.embedded_bytes("image")

    def initrd_bytes(self) -> bytes | None:
        return self.embedded_bytes("initrd")

    def dtb_bytes(self) -> bytes | None:
        return self.embedded_bytes("dtb")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "TraceReader":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            self.close()

    # -- the start ------------------------------------------------------------------

    def _read_preamble(self) -> int:
        if self.size == 0:
            raise TraceError("empty file, not an rrvm trace (nothing at offset 0)", self.path)
        data = self._pread(0, min(self.size, PREAMBLE.size))
        if data[:len(MAGIC)] != MAGIC[:len(data)]:
            raise TraceError("not an rrvm trace (bad magic at offset 0)", self.path)
        if len(data) < PREAMBLE.size:
            raise TraceTruncated(f"truncated trace: file ends at offset {self.size} inside the "
                                 "16-byte preamble", self.path)
        _, version, _ = PREAMBLE.unpack(data)
        if version > FORMAT_VERSION:
            raise TraceVersionError(f"trace was written by a newer rrvm (format {version}, this "
                                    f"reads {FORMAT_VERSION}); version field at offset 8",
                                    self.path)
        if version < 1:
            raise TraceVersionError(f"unsupported trace format {version} (this reads "
                                    f"{FORMAT_VERSION}); version field at offset 8", self.path)
        return version

    def _read_header(self) -> tuple[TraceHeader, int]:
        frame, raw = self._load(HEADER_OFFSET, TAG_HEAD)
        where = f"header frame at offset {HEADER_OFFSET}"
        try:
            header = TraceHeader.from_plain(unpack_plain(raw, "header"), self.format_version)
        except TraceError as exc:
            raise TraceCorrupt(f"{where}: {exc.what}", self.path) from None
        return header, frame.end

    # -- the end: trailer, or a scan ------------------------------------------------

    def _read_end(self) -> None:
        try:
            self._read_trailer()
        except (TraceTruncated, TraceCorrupt) as exc:
            self.problems.append(f"{exc.what}; scanned the chunks instead")
            self._scan()
        if self.strict and self.problems:
            error = TraceCorrupt if self.complete else TraceTruncated
            raise error("; ".join(self.problems), self.path)

    def _read_trailer(self) -> None:
        """The O(1) way in: trailer -> index and footer, all cross-checked."""
        trailer_offset = self.size - TRAILER.size
        if trailer_offset < self.data_start:
            raise TraceTruncated(f"no trailer (file ends at offset {self.size})")
        pointers = parse_trailer(self._pread(trailer_offset, TRAILER.size))
        if pointers is None:
            raise TraceTruncated(f"no intact trailer at offset {trailer_offset} "
                                 "(the writer did not finish)")
        index_offset, footer_offset = pointers
        if not self.data_start <= index_offset < footer_offset < trailer_offset:
            raise TraceCorrupt(f"trailer at offset {trailer_offset} points outside the trace")
        self._chunk_area_end = index_offset
        index_frame, index_raw = self._load(index_offset, TAG_INDEX, limit_end=footer_offset)
        footer_frame, footer_raw = self._load(footer_offset, TAG_FOOTER, limit_end=trailer_offset)
        if index_frame.end != footer_offset or footer_frame.end != trailer_offset:
            raise TraceCorrupt(f"trailer at offset {trailer_offset} does not match the frames "
                               "it points to")
        index = self._decode(index_raw, index_frame, index_from_plain)
        if index_frame.count != len(index):
            raise TraceCorrupt(f"index frame at offset {index_offset} declares "
                               f"{index_frame.count} entries but holds {len(index)}", self.path)
        self._check_index(index, index_offset, index_offset)
        footer = self._decode(footer_raw, footer_frame, TraceFooter.from_plain)
        self._accept(index, footer, footer_offset)

    def _scan(self) -> None:
        """Walk the frames from the header on, keeping every whole chunk.

        A frame cut by the end of the file (or a zero-filled tail) is
        truncation: the crash this format is built to survive. A whole chunk
        with a bad checksum is corruption and an error. Damage past the last
        chunk (in the index or footer, which are redundant) only makes the
        trace incomplete; an intact trailer tells where that region starts.
        """
        chunks: list[ChunkInfo] = []
        offset, footer, footer_offset = self.data_start, None, 0
        end_region = self._chunk_area_end    # None: unknown (no intact trailer)
        damaged_end = False
        while offset < self.size:
            in_end = damaged_end or (end_region is not None and offset >= end_region)
            try:
                frame = self._frame_at(offset, number=len(chunks))
            except TraceTruncated as exc:
                self.problems.append(exc.what)
                break
            except TraceCorrupt as exc:
                if not in_end:
                    raise
                self.problems.append(exc.what)
                break
            if frame.tag == TAG_HEAD:
                raise TraceCorrupt(f"second header frame at offset {offset}", self.path)
            try:
                stored = self._payload(frame, number=len(chunks))
            except TraceCorrupt as exc:
                if frame.tag == TAG_CHUNK and not in_end:
                    raise
                self.problems.append(exc.what)
                if frame.tag == TAG_FOOTER or in_end and frame.tag == TAG_CHUNK:
                    break
                damaged_end = True  # a damaged index: an intact footer may still follow it
                offset = frame.end
                continue
            if frame.tag == TAG_CHUNK:
                chunks.append(ChunkInfo(len(chunks), offset, frame.first_icount,
                                        frame.last_icount, frame.count, frame.stored_size,
                                        frame.raw_size))
            elif frame.tag == TAG_FOOTER:
                raw = self._inflate(frame, stored)
                footer = self._decode(raw, frame, TraceFooter.from_plain)
                footer_offset = offset
                break
            offset = frame.end
        if footer is None:
            self.problems.append(f"incomplete trace: no footer; {len(chunks)} whole chunks "
                                 f"end at offset {offset}")
        self._check_index(chunks, self.size, offset)
        if footer is not None:
            self._accept(chunks, footer, footer_offset)
        else:
            self._index = chunks

    def _check_index(self, index: list[ChunkInfo], data_end: int, offset: int) -> None:
        try:
            check_chunk_order(index, self.data_start, data_end)
        except TraceError as exc:
            raise TraceCorrupt(f"{exc.what} (index or chunk headers before offset {offset})",
                               self.path) from None

    def _accept(self, index: list[ChunkInfo], footer: TraceFooter, footer_offset: int) -> None:
        """Take index and footer, once the footer's totals agree with the chunks."""
        total = sum(chunk.event_count for chunk in index)
        if footer.events != total:
            raise TraceCorrupt(f"footer frame at offset {footer_offset} counts {footer.events} "
                               f"events but the chunks hold {total}", self.path)
        if index and footer.final_icount < index[-1].last_icount:
            raise TraceCorrupt(f"footer frame at offset {footer_offset} ends at icount "
                               f"{footer.final_icount}, before the last event", self.path)
        self._index, self._footer = index, footer

    # -- frames -----------------------------------------------------------------------

    def _load(self, offset: int, tag: bytes, number: int | None = None,
              limit_end: int | None = None) -> tuple[Frame, bytes]:
        """Frame of the expected kind at ``offset``: header, checked payload, inflated bytes."""
        frame = self._frame_at(offset, number)
        name = _frame_name(frame.tag, offset, number)
        if frame.tag != tag:
            raise TraceCorrupt(f"expected a {_frame_name(tag, offset, number)}, found tag "
                               f"{frame.tag!r}", self.path)
        if limit_end is not None and frame.end > limit_end:
            raise TraceCorrupt(f"{name} overlaps the next part of the trace", self.path)
        stored = self._payload(frame, number)
        return frame, self._inflate(frame, stored, name)

    def _frame_at(self, offset: int, number: int | None = None) -> Frame:
        if offset + FRAME.size > self.size:
            raise TraceTruncated(f"truncated trace: file ends at offset {self.size} inside the "
                                 f"frame header at offset {offset}", self.path)
        frame = parse_frame(offset, self._pread(offset, FRAME.size))
        if frame.tag not in FRAME_TAGS:
            if self._zeros_from(offset):
                raise TraceTruncated(f"truncated trace: zero bytes from offset {offset} to "
                                     "the end", self.path)
            raise TraceCorrupt(f"no frame at offset {offset} (unknown tag {frame.tag!r})",
                               self.path)
        name = _frame_name(frame.tag, offset, number if frame.tag == TAG_CHUNK else None)
        if frame.codec not in (CODEC_STORED, CODEC_LZ4_BLOCK):
            raise TraceCorrupt(f"{name}: unknown codec {frame.codec}", self.path)
        if frame.tag == TAG_CHUNK and not 1 <= frame.count <= MAX_CHUNK_EVENTS:
            raise TraceCorrupt(f"{name}: declares {frame.count} events (a chunk holds 1 to "
                               f"{MAX_CHUNK_EVENTS})", self.path)
        if frame.end > self.size:
            raise TraceTruncated(f"truncated trace: {name} needs {frame.end - self.size} more "
                                 f"bytes than the file has", self.path)
        return frame

    def _payload(self, frame: Frame, number: int | None = None) -> bytes:
        """The stored payload, checked against the frame's crc32."""
        stored = self._pread(frame.payload_offset, frame.stored_size)
        crc = frame_crc(self._pread(frame.offset, FRAME.size), stored)
        if crc != frame.crc:
            name = _frame_name(frame.tag, frame.offset, number)
            raise TraceCorrupt(f"{name}: checksum mismatch (stored {frame.crc:#010x}, "
                               f"computed {crc:#010x})", self.path)
        return stored

    def _inflate(self, frame: Frame, stored: bytes, name: str | None = None) -> bytes:
        """Decompress with the frame kind's limit; the declared size must be exact."""
        name = name or _frame_name(frame.tag, frame.offset, None)
        if frame.codec == CODEC_STORED:
            if frame.raw_size != frame.stored_size:
                raise TraceCorrupt(f"{name}: stored payload of {frame.stored_size} bytes "
                                   f"declares {frame.raw_size}", self.path)
            return stored
        try:
            return decompress(stored, frame.raw_size, RAW_LIMITS[frame.tag])
        except TraceError as exc:
            raise TraceCorrupt(f"{name} {exc.what}", self.path) from None

    def _decode(self, raw: bytes, frame: Frame, build: Any) -> Any:
        """Plain-data decoding plus a schema, with errors placed at the frame."""
        name = _frame_name(frame.tag, frame.offset, None)
        try:
            return build(unpack_plain(raw, _FRAME_NAMES.get(frame.tag, "payload")))
        except TraceError as exc:
            raise TraceCorrupt(f"{name}: {exc.what}", self.path) from None

    # -- bytes --------------------------------------------------------------------------

    def _zeros_from(self, offset: int) -> bool:
        """True when every byte from ``offset`` to the end is zero (a tail lost in a crash)."""
        while offset < self.size:
            block = self._pread(offset, min(_ZERO_SCAN_BLOCK, self.size - offset))
            if block.count(0) != len(block):
                return False
            offset += len(block)
        return True

    def _pread(self, offset: int, size: int) -> bytes:
        """Exactly ``size`` bytes at ``offset``; callers have checked the file is long enough."""
        try:
            data = os.pread(self._fd, size, offset)
        except OSError as exc:
            raise TraceError(f"cannot read trace ({exc.strerror}) at offset {offset}",
                             self.path) from None
        if len(data) != size:
            raise TraceTruncated(f"truncated trace: file ends at offset {offset + len(data)} "
                                 "while reading (it shrank)", self.path)
        return data


def _decode_records(records: Any, frame: Frame) -> list[Event]:
    """Events of a chunk payload: exactly ``frame.count``, in order, spanning first..last."""
    if type(records) is not list:
        raise TraceError("payload is not an array of events")
    if len(records) != frame.count:
        raise TraceError(f"holds {len(records)} events, its header declares {frame.count}")
    events = []
    previous = frame.first_icount
    for number, record in enumerate(records):
        try:
            event = decode_event(record)
        except TraceError as exc:
            raise TraceError(f"event {number}: {exc.what}") from None
        if event.icount < previous:
            raise TraceError(f"event {number} goes back in time (icount {event.icount} after "
                             f"{previous})")
        previous = event.icount
        events.append(event)
    if events and (events[0].icount, events[-1].icount) != (frame.first_icount, frame.last_icount):
        raise TraceError("events do not span the icounts its header declares")
    return events


def _chunk_name(number: int | None, offset: int) -> str:
    if number is None:
        return f"chunk at offset {offset}"
    return f"chunk {number} at offset {offset}"


def _frame_name(tag: bytes, offset: int, number: int | None) -> str:
    if tag == TAG_CHUNK:
        return _chunk_name(number, offset)
    return f"{_FRAME_NAMES.get(tag, 'frame')} at offset {offset}"

