"""What a trace needs besides its events to reproduce a run on another machine.

A trace is self-contained: the guest image, initrd and device tree travel
inside it (lz4-compressed, with their sha256 and size), together with the
board configuration, the clock, and the command line. A replay on another
machine, or after the image file was rebuilt, then runs the same bytes.

The virtio-blk disk image travels inside too when it is small
(``DISK_EMBED_LIMIT``); a larger one is only named by the board
configuration (path, size, sha256), and a replay reopens and checks it.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rr
from rr.log.errors import TraceError
from rr.log.frames import FORMAT_VERSION, MAGIC, compress, decompress
from rr.log.plain import check_plain
from rr.log.schema import (Field, blob, boolean, fields_of, hex_digest, integer, one_of,
                           optional, read_map, seconds, text, text_list)
from rr.monitor.board_config import BoardConfig
from rr.monitor.constants import (
    DISK_EMBED_LIMIT, MAX_BOOTARGS, MAX_COMMAND_LINE_ARG, MAX_COMMAND_LINE_ITEMS,
    DEFAULT_QUANTUM_INSNS, MAX_CHAOS_SEED, MAX_DISK_SIZE, MAX_DTB_SIZE, MAX_EPOCH_INSNS, MAX_HARTS,
    MAX_QUANTUM_INSNS, MAX_RAM_SIZE, MAX_TEXT_FIELD, MIN_EPOCH_INSNS, MIN_QUANTUM_INSNS,
    MIN_RAM_SIZE, RAM_BASE, RAM_SIZE_ALIGN, RNG_SEED_BYTES,
    UNRECORDED_EPOCH_INSNS,
)

# Largest embedded file a reader inflates; checked against the declared size
# before any allocation.
EMBED_LIMIT = 1 << 30
EMBED_ROLES = ("image", "initrd", "dtb", "disk")


@dataclass(frozen=True)
class EmbeddedFile:
    """A file stored inside the trace: lz4 block data plus what it must inflate to."""

    name: str          # the file's base name, for display
    path: str          # the path it was loaded from at record time
    size: int          # original size in bytes
    sha256: str        # hex digest of the original bytes
    compressed: bytes = field(repr=False)  # lz4 block format, no size prefix

    @classmethod
    def from_bytes(cls, data: bytes, path: str | os.PathLike[str] = "") -> "EmbeddedFile":
        if len(data) > EMBED_LIMIT:
            raise TraceError(f"{os.fspath(path) or 'embedded file'} is {len(data)} bytes, "
                             f"more than the {EMBED_LIMIT} a trace may embed")
        return cls(name=Path(path).name, path=os.fspath(path), size=len(data),
                   sha256=hashlib.sha256(data).hexdigest(), compressed=compress(data))

    def data(self, limit: int = EMBED_LIMIT) -> bytes:
        """The original bytes: size checked before inflating, sha256 checked after."""
        try:
            raw = decompress(self.compressed, self.size, limit)
        except TraceError as exc:
            raise TraceError(f"embedded {self.name or 'file'} {exc.what}") from None
        if hashlib.sha256(raw).hexdigest() != self.sha256:
            raise TraceError(f"embedded {self.name or 'file'} does not match its sha256")
        return raw

    def to_plain(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "size": self.size,
                "sha256": self.sha256, "lz4": self.compressed}

    @classmethod
    def from_plain(cls, data: Any, what: str) -> "EmbeddedFile":
        values = read_map(data, EMBEDDED_FIELDS, what)
        return cls(name=values["name"], path=values["path"], size=values["size"],
                   sha256=values["sha256"], compressed=values["lz4"])


EMBEDDED_FIELDS = (
    Field("name", text(MAX_TEXT_FIELD)),
    Field("path", text(MAX_TEXT_FIELD)),
    Field("size", integer(high=EMBED_LIMIT)),
    Field("sha256", hex_digest(64)),
    Field("lz4", blob(EMBED_LIMIT)),
)

# The board configuration (BoardConfig.to_dict of rr/monitor/board_config.py).
# ``disk`` and ``virtio_rng`` came later: absent means no disk, no rng.
DISK_FIELDS = (
    Field("path", text(MAX_TEXT_FIELD)),
    Field("sha256", hex_digest(64)),
    Field("size", integer(1, MAX_DISK_SIZE)),
    Field("writable", boolean, False),
)
BOARD_FIELDS = (
    Field("ram_size", integer(MIN_RAM_SIZE, MAX_RAM_SIZE, RAM_SIZE_ALIGN)),
    Field("bootargs", text(MAX_BOOTARGS)),
    Field("clock", one_of("virtual", "host")),
    Field("initrd_start", optional(integer())),
    Field("initrd_end", optional(integer())),
    Field("stdout_path", text(MAX_TEXT_FIELD)),
    Field("rng_seed", optional(blob(RNG_SEED_BYTES, RNG_SEED_BYTES))),
    Field("disk", optional(fields_of(DISK_FIELDS)), None),
    Field("virtio_rng", boolean, False),
    Field("epoch_insns", integer(MIN_EPOCH_INSNS, MAX_EPOCH_INSNS), UNRECORDED_EPOCH_INSNS),
    # Written only for more than one hart: absent means the one hart of old traces.
    Field("harts", integer(1, MAX_HARTS), 1),
    Field("quantum_insns", integer(MIN_QUANTUM_INSNS, MAX_QUANTUM_INSNS), DEFAULT_QUANTUM_INSNS),
    Field("chaos_seed", optional(integer(0, MAX_CHAOS_SEED)), None),   # rrvm record --chaos
)
CLOCK_FIELDS = (
    Field("mode", one_of("virtual", "host")),
    Field("insns_per_tick", integer(1, 1 << 32)),
    Field("timebase_hz", integer(1, 1 << 40)),
)
EMBEDDED = optional(EmbeddedFile.from_plain)
# The HEAD map. Adding a header field is adding a row here (and to to_plain).
HEADER_FIELDS = (
    Field("rrvm_version", text(MAX_TEXT_FIELD)),
    Field("board", fields_of(BOARD_FIELDS)),
    Field("clock", fields_of(CLOCK_FIELDS)),
    Field("command_line", text_list(MAX_COMMAND_LINE_ITEMS, MAX_COMMAND_LINE_ARG)),
    Field("created", seconds),
    Field("image", EMBEDDED),
    Field("initrd", EMBEDDED),
    Field("dtb", EMBEDDED),
    Field("disk", EMBEDDED, None),        # added later: absent means no embedded disk
    Field("engine", text(MAX_TEXT_FIELD), None),     # added later: absent means not said
)


@dataclass
class TraceHeader:
    """Everything before the first event. ``magic`` and ``format_version`` live in the preamble."""

    board: dict[str, Any] = field(default_factory=lambda: BoardConfig().to_dict())
    clock_mode: str = "virtual"                  # "virtual" or "host"
    insns_per_tick: int = 1                      # virtual clock rate
    timebase_hz: int = 10_000_000
    image: EmbeddedFile | None = None
    initrd: EmbeddedFile | None = None
    dtb: EmbeddedFile | None = None
    disk: EmbeddedFile | None = None             # virtio-blk's image, when small enough
    command_line: list[str] = field(default_factory=list)
    created: float = field(default_factory=time.time)   # Unix time, seconds
    rrvm_version: str = rr.__version__
    engine: str | None = None                    # counting engine that recorded; None: not said
    magic: bytes = MAGIC
    format_version: int = FORMAT_VERSION

    def embedded(self, role: str) -> EmbeddedFile | None:
        """The embedded file for 'image', 'initrd', 'dtb' or 'disk'."""
        if role not in EMBED_ROLES:
            raise TraceError(f"unknown embedded file {role!r} (known: {', '.join(EMBED_ROLES)})")
        return getattr(self, role)

    def to_plain(self) -> dict[str, Any]:
        """The msgpack map stored in the HEAD frame."""
        plain = {
            "rrvm_version": self.rrvm_version,
            "board": self.board,
            "clock": {"mode": self.clock_mode, "insns_per_tick": self.insns_per_tick,
                      "timebase_hz": self.timebase_hz},
            "command_line": list(self.command_line),
            "created": float(self.created),
        }
        if self.engine is not None:
            plain["engine"] = self.engine
        for role in EMBED_ROLES:
            embedded = getattr(self, role)
            plain[role] = embedded.to_plain() if embedded is not None else None
        check_plain(plain, "header")
        return plain

    @classmethod
    def from_plain(cls, data: Any, format_version: int = FORMAT_VERSION) -> "TraceHeader":
        """Checked decoding (HEADER_FIELDS, then check_consistency); unknown keys are
        ignored so that later writers may add some."""
        values = read_map(data, HEADER_FIELDS, "header")
        clock = values["clock"]
        header = cls(
            board=data["board"], clock_mode=clock["mode"],
            insns_per_tick=clock["insns_per_tick"], timebase_hz=clock["timebase_hz"],
            command_line=values["command_line"], created=values["created"],
            rrvm_version=values["rrvm_version"], engine=values["engine"],
            format_version=format_version, **{role: values[role] for role in EMBED_ROLES},
        )
        check_consistency(header, values["board"])
        return header


def check_consistency(header: TraceHeader, board: dict[str, Any]) -> None:
    """What no single field shows: the fields must describe one board this rrvm can build."""
    if header.clock_mode != board["clock"]:
        raise TraceError(f"header clock mode {header.clock_mode!r} differs from board clock "
                         f"{board['clock']!r}")
    ram_size = board["ram_size"]
    ram_end = RAM_BASE + ram_size
    for role, limit in (("image", ram_size), ("initrd", ram_size), ("dtb", MAX_DTB_SIZE)):
        embedded = getattr(header, role)
        if embedded is not None and embedded.size > limit:
            raise TraceError(f"header {role} size is {embedded.size} bytes, more than the "
                             f"{limit} it may have on this board")
    start, end = board["initrd_start"], board["initrd_end"]
    if header.initrd is None:
        if start is not None or end is not None:
            raise TraceError("header board places an initrd but the trace embeds none")
    elif start is None or end is None or not RAM_BASE <= start <= end <= ram_end \
            or end - start != header.initrd.size:
        raise TraceError(f"header board initrd_start..initrd_end ({start}..{end}) does not "
                         f"hold the {header.initrd.size}-byte initrd inside RAM")
    disk = board["disk"]
    if header.disk is not None:
        if disk is None:
            raise TraceError("header embeds a disk but the board has none")
        if (header.disk.size, header.disk.sha256) != (disk["size"], disk["sha256"]):
            raise TraceError("header disk differs in size or sha256 from the board's disk")
        if header.disk.size > DISK_EMBED_LIMIT:
            raise TraceError(f"header disk size is {header.disk.size} bytes, more than the "
                             f"{DISK_EMBED_LIMIT} a trace embeds")
