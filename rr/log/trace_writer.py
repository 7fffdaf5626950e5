"""Appending events to a trace while the guest runs, so that a crash loses at most a second.

Events are packed into an in-memory chunk; a chunk is written (one write() of
one whole frame) and fsync'd when it holds ``max_events`` events or
``max_bytes`` bytes, when at least ``flush_interval`` seconds of host time
passed since the last flush, or when the caller asks. Everything on disk is
therefore a sequence of whole frames plus at most one torn frame at the end,
which the reader recognises as truncation. ``close()`` adds the index, the
footer and the trailer that let a reader open a complete trace without
scanning it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import msgpack

from rr.log.errors import TraceError, TraceWriteError
from rr.log.events import Event, Progress, encode_event
from rr.log.frames import (CODEC_LZ4_BLOCK, CODEC_STORED, FRAME, RAW_LIMITS, TAG_CHUNK, TAG_FOOTER,
                           TAG_HEAD, TAG_INDEX, pack_frame, pack_preamble, pack_trailer)
from rr.log.header import TraceHeader
from rr.log.index import ChunkInfo, TraceFooter, index_to_plain
from rr.log.plain import pack_plain
from rr.monitor.constants import MAX_CHUNK_EVENTS

DEFAULT_MAX_EVENTS = 4096
DEFAULT_MAX_BYTES = 1 << 20
DEFAULT_FLUSH_INTERVAL = 1.0
CHUNK_LIMIT = RAW_LIMITS[TAG_CHUNK]
_ARRAY_HEADER_MAX = 5   # msgpack array32 header: what a chunk adds to its records


class TraceWriter:
    """Writes one trace file: preamble and header now, events as they come, the end on close()."""

    def __init__(self, path: str | os.PathLike[str], header: TraceHeader, *,
                 max_events: int = DEFAULT_MAX_EVENTS, max_bytes: int = DEFAULT_MAX_BYTES,
                 flush_interval: float = DEFAULT_FLUSH_INTERVAL, fsync: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        if not 1 <= max_events <= MAX_CHUNK_EVENTS:
            raise TraceWriteError(f"max_events {max_events} is outside 1..{MAX_CHUNK_EVENTS}",
                                  path, 0)
        if not 1 <= max_bytes <= CHUNK_LIMIT - _ARRAY_HEADER_MAX:
            raise TraceWriteError(f"max_bytes {max_bytes} is outside 1.."
                                  f"{CHUNK_LIMIT - _ARRAY_HEADER_MAX}", path, 0)
        self.header = header
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.flush_interval = flush_interval
        self._fsync = fsync
        self._clock = clock
        self._packer = msgpack.Packer(use_bin_type=True)
        self._records: list[bytes] = []
        self._pending_bytes = 0
        self._pending_first = 0
        self._last_icount = 0
        self._chunks: list[ChunkInfo] = []
        self._counts: Counter[str] = Counter()
        self._offset = 0
        self._closed = False
        self._footer: TraceFooter | None = None
        try:
            self._file = open(self.path, "wb", buffering=0)
        except OSError as exc:
            raise TraceWriteError(f"cannot create trace ({exc.strerror})", self.path, 0) from None
        self._write_start()
        self._last_flush = self._clock()

    # -- the preamble and header ----------------------------------------------

    def _write_start(self) -> None:
        try:
            payload = pack_plain(self.header.to_plain(), "header")
        except TraceError as exc:
            self._file.close()
            raise TraceWriteError(exc.what, self.path, 0) from None
        self._emit(pack_preamble(self.header.format_version))
        self._emit(pack_frame(TAG_HEAD, payload, CODEC_STORED))
        self._sync()

    # -- events -----------------------------------------------------------------

    def write(self, event: Event) -> None:
        """Append one event; events must come in nondecreasing instruction count order."""
        self._check_open()
        if event.icount < self._last_icount:
            raise TraceWriteError(f"event at icount {event.icount} written after icount "
                                  f"{self._last_icount}", self.path, self._offset)
        try:
            record = self._packer.pack(encode_event(event))
        except TraceError as exc:
            raise TraceWriteError(exc.what, self.path, self._offset) from None
        if len(record) > CHUNK_LIMIT - _ARRAY_HEADER_MAX:
            raise TraceWriteError(f"{event.KIND} event of {len(record)} bytes does not fit in a "
                                  f"chunk (at most {CHUNK_LIMIT} bytes)", self.path, self._offset)
        if self._records and self._pending_bytes + len(record) > self.max_bytes:
            self.flush()            # a big event starts a chunk of its own
        if not self._records:
            self._pending_first = event.icount
        self._records.append(record)
        self._pending_bytes += len(record)
        self._last_icount = event.icount
        self._counts[event.KIND] += 1
        if len(self._records) >= self.max_events or self._pending_bytes >= self.max_bytes:
            self.flush()
        else:
            self.maybe_flush()

    def progress(self, icount: int) -> None:
        """The run reached ``icount``: once ``flush_interval`` seconds passed since the
        last chunk, write a progress marker there and the chunk it ends, so a trace cut
        at any moment tells how far its history goes to within about that time."""
        self._check_open()
        if icount > self._last_icount and self._clock() - self._last_flush >= self.flush_interval:
            self.write(Progress(icount))
            self.flush()

    def maybe_flush(self) -> bool:
        """Flush if events wait and ``flush_interval`` seconds passed (idle loops call it)."""
        if self._records and self._clock() - self._last_flush >= self.flush_interval:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Write the pending chunk, if any, and make everything written so far durable."""
        self._check_open()
        if self._records:
            self._write_chunk()
            self._sync()
        self._last_flush = self._clock()

    def _write_chunk(self) -> None:
        count = len(self._records)
        raw = self._packer.pack_array_header(count) + b"".join(self._records)
        offset = self._offset
        self._emit(pack_frame(TAG_CHUNK, raw, CODEC_LZ4_BLOCK, count,
                              self._pending_first, self._last_icount))
        self._chunks.append(ChunkInfo(len(self._chunks), offset, self._pending_first,
                                      self._last_icount, count, self._offset - offset
                                      - FRAME.size, len(raw)))
        self._records = []
        self._pending_bytes = 0

    # -- the end ----------------------------------------------------------------

    def close(self, footer: TraceFooter) -> TraceFooter:
        """Finish a complete trace: last chunk, index, footer, trailer; returns the footer."""
        self._check_open()
        if footer.final_icount < self._last_icount:
            raise TraceWriteError(f"footer final icount {footer.final_icount} is before the last "
                                  f"event (icount {self._last_icount})", self.path, self._offset)
        footer.event_counts = dict(self._counts)
        try:
            footer_payload = pack_plain(footer.to_plain(), "footer")
        except TraceError as exc:
            raise TraceWriteError(exc.what, self.path, self._offset) from None
        if self._records:
            self._write_chunk()
        index_offset = self._offset
        self._emit(pack_frame(TAG_INDEX, pack_plain(index_to_plain(self._chunks), "index"),
                              CODEC_LZ4_BLOCK, len(self._chunks)))
        footer_offset = self._offset
        self._emit(pack_frame(TAG_FOOTER, footer_payload, CODEC_STORED))
        self._emit(pack_trailer(index_offset, footer_offset))
        self._sync()
        self._finish()
        self._footer = footer
        return footer

    def abort(self) -> None:
        """Stop without a footer: pending events are flushed; the trace is readable, incomplete."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._finish()

    def _finish(self) -> None:
        self._closed = True
        self._file.close()

    def __enter__(self) -> "TraceWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Leaving without close(footer) (an exception, a forgotten close) keeps the events."""
        self.abort()

    # -- state ------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def footer(self) -> TraceFooter | None:
        return self._footer

    @property
    def bytes_written(self) -> int:
        """Size of the file so far (pending events not included)."""
        return self._offset

    @property
    def chunks(self) -> list[ChunkInfo]:
        return list(self._chunks)

    @property
    def last_icount(self) -> int:
        return self._last_icount

    # -- I/O --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise TraceWriteError("trace writer is already closed", self.path, self._offset)

    def _emit(self, data: bytes) -> None:
        """Write all of ``data``; a short write or a full disk is reported with the offset."""
        view = memoryview(data)
        try:
            while view:
                written = self._file.write(view)
                view = view[written:]
                self._offset += written
        except OSError as exc:
            raise TraceWriteError(f"cannot write trace ({exc.strerror})", self.path,
                                  self._offset) from None

    def _sync(self) -> None:
        if not self._fsync:
            return
        try:
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise TraceWriteError(f"cannot sync trace ({exc.strerror})", self.path,
                                  self._offset) from None
