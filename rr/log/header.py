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
from rr.log.plain import check_plain, take, take_uint

# Largest embedded file a reader inflates; checked against the declared size
# before any allocation.
EMBED_LIMIT = 1 << 30
EMBED_ROLES = ("image", "initrd", "dtb", "disk")
# Roles added after the first traces were written: absent means nil.
OPTIONAL_ROLES = ("disk",)


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
        if type(data) is not dict:
            raise TraceError(f"{what} is not a map")
        digest = take(data, "sha256", str, what)
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise TraceError(f"{what} sha256 is not 64 lowercase hex digits")
        return cls(name=take(data, "name", str, what), path=take(data, "path", str, what),
                   size=take_uint(data, "size", what), sha256=digest,
                   compressed=take(data, "lz4", bytes, what))


@dataclass
class TraceHeader:
    """Everything before the first event. ``magic`` and ``format_version`` live in the preamble."""

    board: dict[str, Any] = field(default_factory=dict)
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
        """Checked decoding; unknown keys are ignored so that later writers may add some."""
        if type(data) is not dict:
            raise TraceError("header is not a map")
        clock = take(data, "clock", dict, "header")
        command_line = take(data, "command_line", list, "header")
        if any(type(arg) is not str for arg in command_line):
            raise TraceError("header command_line holds a non-string")
        embedded = {}
        for role in EMBED_ROLES:
            if role in OPTIONAL_ROLES and role not in data:
                embedded[role] = None
                continue
            value = take(data, role, (dict, type(None)), "header")
            embedded[role] = (None if value is None
                              else EmbeddedFile.from_plain(value, f"header {role}"))
        return cls(
            board=take(data, "board", dict, "header"),
            clock_mode=take(clock, "mode", str, "header clock"),
            insns_per_tick=take_uint(clock, "insns_per_tick", "header clock"),
            timebase_hz=take_uint(clock, "timebase_hz", "header clock"),
            command_line=command_line,
            created=take(data, "created", (float, int), "header"),
            rrvm_version=take(data, "rrvm_version", str, "header"),
            engine=take(data, "engine", str, "header") if "engine" in data else None,
            format_version=format_version,
            **embedded,
        )
