"""The byte layout every part of a trace shares: preamble, frames, trailer.

Everything after the 16-byte preamble is a *frame*: a fixed 40-byte header
(what it is, how big, which instruction counts it covers, a crc32) followed by
its payload. One framing for the header, the event chunks, the index and the
footer means one scanner can walk a trace whose end is missing, and one
checksum rule catches flipped bytes anywhere. traces/FORMAT.md is the
specification; this module is its executable form.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

import lz4.block

from rr.log.errors import TraceError

MAGIC = b"\x89rrvm\r\n\x1a"      # high bit and CR LF catch 7-bit and text-mode copies
FORMAT_VERSION = 1

PREAMBLE = struct.Struct("<8sII")             # magic, format version, reserved
# tag, codec, pad, stored size, raw size, count, first icount, last icount, crc
FRAME = struct.Struct("<4sB3xIIIQQI")
# tag, pad, index offset, footer offset, crc, end mark
TRAILER = struct.Struct("<4s4xQQI4s")
FRAME_CRC_SPAN = FRAME.size - 4               # the crc covers the frame header before it

TAG_HEAD = b"HEAD"
TAG_CHUNK = b"CHNK"
TAG_INDEX = b"INDX"
TAG_FOOTER = b"FOOT"
TAG_TRAILER = b"TRLR"
END_MARK = b"rrvm"
FRAME_TAGS = (TAG_HEAD, TAG_CHUNK, TAG_INDEX, TAG_FOOTER)

CODEC_STORED = 0
CODEC_LZ4_BLOCK = 1

MIB = 1 << 20
# Largest decompressed payload a reader accepts, per frame kind: a corrupt or
# hostile size field must not make us allocate gigabytes.
# A chunk is closed at 1 MiB by default (rr/log/trace_writer.py) and holds
# events of at most 64 KiB, so 2 MiB is never reached by a real recording
# and bounds what decoding one chunk can cost.
RAW_LIMITS = {TAG_HEAD: 64 * MIB, TAG_CHUNK: 2 * MIB, TAG_INDEX: 64 * MIB, TAG_FOOTER: 1 * MIB}
U32_MAX = (1 << 32) - 1


@dataclass(frozen=True, slots=True)
class Frame:
    """A parsed frame header and where it sits in the file."""

    offset: int
    tag: bytes
    codec: int
    stored_size: int
    raw_size: int
    count: int
    first_icount: int
    last_icount: int
    crc: int

    @property
    def payload_offset(self) -> int:
        return self.offset + FRAME.size

    @property
    def end(self) -> int:
        """Offset of the first byte after this frame."""
        return self.offset + FRAME.size + self.stored_size


# Bytes a caller reads to tell a trace from a guest image: the preamble and the
# HEAD frame's tag after it.
SNIFF_SIZE = PREAMBLE.size + 4


def looks_like_trace(head: bytes, file_size: int) -> bool:
    """True when a file starting with ``head`` (its first SNIFF_SIZE bytes) is meant as
    a trace, intact or not: the magic, the magic with a damaged byte or two, a file
    cut inside the magic, or a HEAD frame where a trace has it. Such a file must be
    read (and refused) as a trace, never run as a raw guest image."""
    if head[:len(MAGIC)] == MAGIC:
        return True
    if 0 < file_size < len(MAGIC) and MAGIC.startswith(head):
        return True
    if head[PREAMBLE.size:SNIFF_SIZE] == TAG_HEAD:
        return True
    same = sum(a == b for a, b in zip(head, MAGIC))
    return len(head) >= len(MAGIC) and same >= len(MAGIC) - 2


def pack_preamble(version: int = FORMAT_VERSION) -> bytes:
    return PREAMBLE.pack(MAGIC, version, 0)


def pack_frame(tag: bytes, raw: bytes, codec: int, count: int = 0,
               first_icount: int = 0, last_icount: int = 0) -> bytes:
    """Header + payload of one frame, ready to be written with a single write()."""
    stored = compress(raw) if codec == CODEC_LZ4_BLOCK else bytes(raw)
    if len(stored) > U32_MAX or len(raw) > U32_MAX:
        raise TraceError(f"{tag.decode()} frame payload of {len(raw)} bytes is too large")
    head = FRAME.pack(tag, codec, len(stored), len(raw), count, first_icount, last_icount, 0)
    crc = zlib.crc32(stored, zlib.crc32(head[:FRAME_CRC_SPAN]))
    return head[:FRAME_CRC_SPAN] + struct.pack("<I", crc) + stored


def parse_frame(offset: int, head: bytes) -> Frame:
    """Fields of a 40-byte frame header (no validation beyond the layout)."""
    tag, codec, stored, raw, count, first, last, crc = FRAME.unpack(head)
    return Frame(offset, tag, codec, stored, raw, count, first, last, crc)


def frame_crc(head: bytes, stored: bytes) -> int:
    return zlib.crc32(stored, zlib.crc32(head[:FRAME_CRC_SPAN]))


def compress(raw: bytes) -> bytes:
    """lz4 block format, without lz4's own size prefix (the frame header holds it)."""
    return lz4.block.compress(raw, store_size=False) if raw else b""


def decompress(stored: bytes, raw_size: int, limit: int) -> bytes:
    """Inflate ``stored`` into exactly ``raw_size`` bytes, refusing more than ``limit``.

    The declared size is checked before any allocation, and lz4 is given an
    output buffer of exactly that size, so a payload that inflates further
    fails instead of growing: no decompression bomb.
    """
    if raw_size > limit:
        raise TraceError(f"declares {raw_size} decompressed bytes, more than the limit of {limit}")
    if raw_size == 0:
        if stored:
            raise TraceError("declares 0 decompressed bytes but has compressed data")
        return b""
    direct = _lz4_decompress_safe() if DIRECT_INFLATE_BYTES <= raw_size < 1 << 31 else None
    if direct is not None and len(stored) < 1 << 31:
        return _inflate_in_place(direct, stored, raw_size)
    try:
        raw = lz4.block.decompress(stored, uncompressed_size=raw_size)
    except Exception:  # lz4 reports corrupt input and overflow alike
        raise TraceError(f"does not decompress into the declared {raw_size} bytes "
                         "(corrupt or larger than declared)") from None
    if len(raw) != raw_size:
        raise TraceError(f"decompresses into {len(raw)} bytes, not the declared {raw_size}")
    return raw


# From this size on, payloads are inflated straight into their final buffer with the
# system's liblz4 when there is one: python-lz4 inflates into a buffer of its own and
# copies it, twice the payload at the peak (2 GB for an embedded 1 GiB initrd).
DIRECT_INFLATE_BYTES = 16 << 20


@lru_cache(maxsize=1)
def _lz4_decompress_safe():
    """liblz4's LZ4_decompress_safe, or None when the system has no liblz4."""
    name = ctypes.util.find_library("lz4")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).LZ4_decompress_safe
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def _inflate_in_place(function, stored: bytes, raw_size: int) -> bytearray:
    """Exactly ``raw_size`` bytes inflated into one buffer (no copy), or a TraceError."""
    raw = bytearray(raw_size)
    target = (ctypes.c_char * raw_size).from_buffer(raw)
    done = function(bytes(stored), ctypes.addressof(target), len(stored), raw_size)
    del target                              # the buffer may be resized again
    if done != raw_size:
        raise TraceError(f"does not decompress into the declared {raw_size} bytes "
                         "(corrupt or larger than declared)")
    return raw


def pack_trailer(index_offset: int, footer_offset: int) -> bytes:
    head = TRAILER.pack(TAG_TRAILER, index_offset, footer_offset, 0, END_MARK)
    crc = zlib.crc32(head[:24])
    return TRAILER.pack(TAG_TRAILER, index_offset, footer_offset, crc, END_MARK)


def parse_trailer(data: bytes) -> tuple[int, int] | None:
    """(index offset, footer offset), or None when these bytes are not an intact trailer."""
    if len(data) != TRAILER.size:
        return None
    tag, index_offset, footer_offset, crc, end = TRAILER.unpack(data)
    if tag != TAG_TRAILER or end != END_MARK or crc != zlib.crc32(data[:24]):
        return None
    return index_offset, footer_offset
