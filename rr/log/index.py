"""The end of a complete trace: the chunk index and the footer.

The index lets a reader jump to the chunk holding an instruction count
without reading the events before it (seek, `rrvm dump --from`); the footer
tells `rrvm info` and the replay engine how the run ended and what its final
state hash was, without replaying it. Both are redundant with the chunks
except for the footer's outcome, which is why a trace without them still
replays.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import Any

from rr.log.errors import TraceError
from rr.log.schema import Field, hex_digest, integer, optional, read_map, seconds, text
from rr.monitor.constants import MAX_HARTS, MAX_TEXT_FIELD

U64 = 1 << 64


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """Where one chunk of events is and which instruction counts it covers."""

    number: int         # 0-based position among the trace's chunks
    offset: int         # file offset of its frame header
    first_icount: int
    last_icount: int
    event_count: int
    stored_size: int    # payload bytes on disk (lz4)
    raw_size: int       # payload bytes after decompression (msgpack)


@dataclass
class TraceFooter:
    """How the recorded run ended. The writer fills ``event_counts`` and ``closed``."""

    final_icount: int
    exit_status: int = 0
    exit_kind: str = ""              # rr.monitor.exits kind: poweroff, fail, reboot, quit
    exit_code: int = 0
    state_hash: str = ""             # hex digest of the final CPU, device and memory state
    event_counts: dict[str, int] = field(default_factory=dict)
    closed: float = field(default_factory=time.time)   # Unix time the writer finished
    # Instructions each hart ran, when the board had more than one (else not written).
    hart_insns: list[int] | None = None

    @property
    def events(self) -> int:
        return sum(self.event_counts.values())

    def to_plain(self) -> dict[str, Any]:
        return {"final_icount": self.final_icount, "exit_status": self.exit_status,
                "exit_kind": self.exit_kind, "exit_code": self.exit_code,
                "state_hash": self.state_hash, "event_counts": dict(self.event_counts),
                "closed": float(self.closed),
                **({"hart_insns": list(self.hart_insns)} if self.hart_insns is not None else {})}

    @classmethod
    def from_plain(cls, data: Any) -> "TraceFooter":
        values = read_map(data, FOOTER_FIELDS, "footer")
        return cls(**values)


def _event_counts(value: Any, what: str) -> dict[str, int]:
    """Events by kind name: a small map of str -> count."""
    if type(value) is not dict:
        raise TraceError(f"{what} is not a map")
    if len(value) > MAX_COUNTED_KINDS:
        raise TraceError(f"{what} names {len(value)} kinds, more than {MAX_COUNTED_KINDS}")
    name, count = text(MAX_TEXT_FIELD), integer()
    return {name(kind, f"{what} key"): count(number, f"{what} for {kind!r}")
            for kind, number in value.items()}


def _hart_insns(value: Any, what: str) -> list[int]:
    """Per-hart instruction totals: a list of 1 to MAX_HARTS counts."""
    if type(value) is not list or not 1 <= len(value) <= MAX_HARTS:
        raise TraceError(f"{what} is not a list of 1 to {MAX_HARTS} counts")
    count = integer()
    return [count(number, f"{what} item {n}") for n, number in enumerate(value)]


# Kinds a footer may count: the known ones and room for later ones.
MAX_COUNTED_KINDS = 64
FOOTER_FIELDS = (
    Field("final_icount", integer()),
    Field("exit_status", integer(-(1 << 31), (1 << 31) - 1)),
    Field("exit_kind", text(MAX_TEXT_FIELD)),
    Field("exit_code", integer(-(1 << 63), (1 << 64) - 1)),
    Field("state_hash", hex_digest(None)),
    Field("event_counts", _event_counts),
    Field("closed", seconds),
    Field("hart_insns", optional(_hart_insns), None),     # added with --smp
)


def index_to_plain(chunks: list[ChunkInfo]) -> list[list[int]]:
    """The INDX payload: one [offset, first icount, last icount, events, stored, raw] per chunk."""
    return [[c.offset, c.first_icount, c.last_icount, c.event_count, c.stored_size, c.raw_size]
            for c in chunks]


def index_from_plain(data: Any) -> list[ChunkInfo]:
    if type(data) is not list:
        raise TraceError("index is not an array")
    chunks = []
    for number, entry in enumerate(data):
        if (type(entry) is not list or len(entry) != 6
                or any(type(v) is not int or not 0 <= v < U64 for v in entry)):
            raise TraceError(f"index entry {number} is not [offset, first, last, events, "
                             "stored, raw]")
        chunks.append(ChunkInfo(number, *entry))
    return chunks


def check_chunk_order(chunks: list[ChunkInfo], data_start: int, data_end: int) -> None:
    """Chunks must be laid out in file order and cover nondecreasing instruction counts."""
    previous: ChunkInfo | None = None
    for chunk in chunks:
        if not data_start <= chunk.offset < data_end:
            raise TraceError(f"index entry {chunk.number} points outside the event area "
                             f"(to offset {chunk.offset})")
        if chunk.event_count == 0 or chunk.first_icount > chunk.last_icount:
            raise TraceError(f"index entry {chunk.number} describes an empty or reversed chunk")
        if previous is not None and (chunk.offset <= previous.offset
                                     or chunk.first_icount < previous.last_icount):
            raise TraceError(f"index entry {chunk.number} is out of order")
        previous = chunk


def chunks_in_range(chunks: list[ChunkInfo], start: int | None,
                    end: int | None) -> list[ChunkInfo]:
    """The chunks that may hold events with start <= icount < end (binary search on the index)."""
    lo = 0 if start is None else bisect.bisect_left(chunks, start, key=_last_icount)
    selected = []
    for chunk in chunks[lo:]:
        if end is not None and chunk.first_icount >= end:
            break
        selected.append(chunk)
    return selected


def _last_icount(chunk: ChunkInfo) -> int:
    return chunk.last_icount
