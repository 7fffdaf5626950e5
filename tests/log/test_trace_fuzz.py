"""Fuzzing the reader: whatever follows a valid header, only TraceError may come out."""

from __future__ import annotations

import struct
import tempfile
import zlib
from pathlib import Path

import lz4.block
import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rr.log import ConsoleInput, GuestExit, ConsoleClosed, TraceError, TraceReader
from rr.log.frames import (FRAME, FRAME_TAGS, TAG_HEAD, TRAILER, pack_frame, pack_preamble,
                           pack_trailer)
from rr.log.plain import pack_plain

from trace_helpers import make_header, write_trace

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

def _start() -> bytes:
    header = pack_plain(make_header(image=None).to_plain(), "header")
    return pack_preamble() + pack_frame(TAG_HEAD, header, 0)


START = _start()


def _valid_trace() -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "valid.rrt"
        events = [ConsoleInput(i * 7, b"k", pc=0x8020_0000) for i in range(12)]
        events += [ConsoleClosed(200), GuestExit(300, "poweroff")]
        write_trace(path, events, max_events=4)
        return path.read_bytes()


VALID = _valid_trace()


def _exercise(directory: Path, data: bytes) -> None:
    """Open and read everything a trace offers; TraceError is the only acceptable failure."""
    path = directory / "fuzz.rrt"
    path.write_bytes(data)
    for strict in (False, True):
        try:
            with TraceReader(path, strict=strict) as reader:
                _ = (reader.footer, reader.complete, reader.index, reader.event_count,
                     reader.last_icount, reader.problems)
                for role in ("image", "initrd", "dtb"):
                    reader.embedded_bytes(role)
                list(reader.events())
                list(reader.events(kinds=["console_input"], start=10, end=100))
        except TraceError as error:
            assert "\n" not in str(error)


plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats()
    | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=5),
    max_leaves=20)


@st.composite
def frames(draw) -> bytes:
    """Frames with a correct crc (so the fuzzer gets past checksums) and arbitrary contents."""
    tag = draw(st.sampled_from(FRAME_TAGS + (b"JUNK",)))
    if draw(st.booleans()):
        raw = msgpack.packb(draw(plain), use_bin_type=True)
    else:
        raw = draw(st.binary(max_size=200))
    codec = draw(st.sampled_from([0, 1, 1, 7]))
    stored = lz4.block.compress(raw, store_size=False) if codec == 1 else raw
    raw_size = draw(st.sampled_from([len(raw), len(raw), 0, len(raw) + 1, 1 << 30, 2**32 - 1]))
    count = draw(st.integers(0, 20))
    first = draw(st.integers(0, 2**64 - 1))
    last = draw(st.sampled_from([first, first + 1 if first < 2**64 - 1 else first, 0]))
    head = FRAME.pack(tag, codec, len(stored), raw_size, count, first, last, 0)[:FRAME.size - 4]
    return head + struct.pack("<I", zlib.crc32(stored, zlib.crc32(head))) + stored


@st.composite
def event_chunks(draw) -> bytes:
    """Chunk frames whose payloads are arrays of almost-valid event records."""
    shaped = st.tuples(st.integers(0, 9), st.integers(0, 1000),
                       st.none() | st.integers(0, 2**64 - 1), plain, plain).map(list)
    records = draw(st.lists(st.lists(plain, max_size=5) | shaped, min_size=1, max_size=6))
    raw = msgpack.packb(records, use_bin_type=True)
    first = draw(st.integers(0, 1000))
    return pack_frame(b"CHNK", raw, 1, len(records), first, draw(st.integers(first, 1000)))


@given(st.binary(max_size=2000))
@SETTINGS
def test_random_bytes_after_a_valid_header(tmp_path, tail):
    _exercise(tmp_path, START + tail)


@given(st.lists(frames() | event_chunks(), max_size=6), st.booleans(),
       st.integers(0, 2000), st.integers(0, 2000))
@SETTINGS
def test_random_frames_after_a_valid_header(tmp_path, parts, add_trailer, index_offset,
                                            footer_offset):
    data = START + b"".join(parts)
    if add_trailer:
        data += pack_trailer(index_offset, footer_offset)
    _exercise(tmp_path, data)


@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(1, 255)),
                min_size=1, max_size=4))
@SETTINGS
def test_flipped_bytes_anywhere_in_a_valid_trace(tmp_path, flips):
    data = bytearray(VALID)
    for position, mask in flips:
        data[position] ^= mask
    _exercise(tmp_path, bytes(data))


@given(st.integers(0, len(VALID)), st.binary(max_size=64))
@SETTINGS
def test_cut_and_spliced_traces(tmp_path, cut, junk):
    _exercise(tmp_path, VALID[:cut] + junk)
    _exercise(tmp_path, VALID[:cut] + VALID[-TRAILER.size:])
