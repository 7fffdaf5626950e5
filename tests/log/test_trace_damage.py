"""Damaged, truncated, foreign and hostile files: one clear TraceError, never a traceback."""

from __future__ import annotations

import struct
import zlib

import lz4.block
import msgpack
import pytest

from rr.log import (ClockRead, ConsoleInput, TraceCorrupt, TraceError, TraceReader,
                    TraceTruncated, TraceVersionError)
from rr.log.frames import (CODEC_LZ4_BLOCK, FRAME, MAGIC, PREAMBLE, TAG_CHUNK, TAG_HEAD,
                           TRAILER, pack_frame, pack_preamble)
from rr.log.plain import pack_plain

from trace_helpers import make_header, write_trace

EVENTS = [ConsoleInput(10 * i, bytes([65 + i]), pc=0x8020_0000 + 4 * i) for i in range(10)]


@pytest.fixture
def small(tmp_path):
    """A complete trace of 10 events in 4 chunks (3+3+3+1), its bytes and its chunk index."""
    path = tmp_path / "small.rrt"
    write_trace(path, EVENTS, max_events=3, header=make_header(image=None, dtb=None))
    with TraceReader(path) as reader:
        index = reader.index
    return path, path.read_bytes(), index


def _one_line(error: Exception, path) -> str:
    message = str(error)
    assert "\n" not in message and str(path) in message
    return message


def _chunk_prefixes(index) -> list[int]:
    """Event counts a reader may legitimately yield: whole chunks only."""
    counts, total = [0], 0
    for chunk in index:
        total += chunk.event_count
        counts.append(total)
    return counts


def test_truncation_at_every_byte_yields_whole_chunks(small, tmp_path):
    path, data, index = small
    cut_path = tmp_path / "cut.rrt"
    header_end = index[0].offset
    footer_end = len(data) - TRAILER.size
    allowed = _chunk_prefixes(index)
    for size in range(len(data) + 1):
        cut_path.write_bytes(data[:size])
        try:
            reader = TraceReader(cut_path)
        except TraceError as error:
            assert size < header_end, f"cut at {size} refused: {error}"
            _one_line(error, cut_path)
            continue
        with reader:
            events = list(reader.events())
            assert len(events) in allowed and events == EVENTS[:len(events)], size
            assert reader.complete == (size >= footer_end), size
            assert (size == len(data)) == (not reader.problems), size
            if not reader.complete:
                assert reader.footer is None
                with pytest.raises(TraceTruncated):
                    TraceReader(cut_path, strict=True)
    # Every whole chunk is kept: a cut just after chunk k yields its events.
    for chunk, count in zip(index, allowed[1:]):
        end = chunk.offset + FRAME.size + chunk.stored_size
        cut_path.write_bytes(data[:end])
        assert len(list(TraceReader(cut_path).events())) == count


def test_zero_filled_tail_is_truncation(small, tmp_path):
    path, data, index = small
    cut = index[2].offset
    damaged = tmp_path / "zeros.rrt"
    damaged.write_bytes(data[:cut] + bytes(300))
    reader = TraceReader(damaged)
    assert not reader.complete and len(list(reader.events())) == 6
    assert any("zero bytes" in p for p in reader.problems)


@pytest.mark.parametrize("chunk_number", [0, 1, 3])
def test_flipped_bytes_in_a_chunk_name_the_chunk(small, tmp_path, chunk_number):
    path, data, index = small
    chunk = index[chunk_number]
    end = chunk.offset + FRAME.size + chunk.stored_size
    damaged = tmp_path / "flip.rrt"
    for position in range(chunk.offset, end):
        for bit in (0, 7):
            flipped = bytearray(data)
            flipped[position] ^= 1 << bit
            damaged.write_bytes(flipped)
            with TraceReader(damaged) as reader:       # complete: chunks are read on demand
                with pytest.raises(TraceCorrupt) as info:
                    list(reader.events())
            message = _one_line(info.value, damaged)
            assert f"offset {chunk.offset}" in message, message
            if position >= chunk.offset + 4:           # with the tag intact it is still a chunk
                assert f"chunk {chunk_number} at offset {chunk.offset}" in message, message


def test_flipped_chunk_in_an_incomplete_trace_is_reported_at_open(small, tmp_path):
    path, data, index = small
    chunk = index[1]
    flipped = bytearray(data[:-TRAILER.size])
    flipped[chunk.offset + FRAME.size + 2] ^= 0x10
    damaged = tmp_path / "flip.rrt"
    damaged.write_bytes(flipped)
    with pytest.raises(TraceCorrupt) as info:
        TraceReader(damaged)
    message = _one_line(info.value, damaged)
    assert f"chunk 1 at offset {chunk.offset}: checksum mismatch" in message


def test_damaged_trailer_falls_back_to_a_scan(small, tmp_path):
    path, data, index = small
    for position in range(len(data) - TRAILER.size, len(data)):
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        damaged = tmp_path / "trailer.rrt"
        damaged.write_bytes(flipped)
        with TraceReader(damaged) as reader:
            assert reader.complete and list(reader.events()) == EVENTS
            assert reader.problems and "scanned" in reader.problems[0]
        with pytest.raises(TraceCorrupt):
            TraceReader(damaged, strict=True)


def test_damaged_index_or_footer_keeps_the_events(small, tmp_path):
    path, data, index = small
    last = index[-1]
    index_offset = last.offset + FRAME.size + last.stored_size
    for position in range(index_offset, len(data) - TRAILER.size):
        flipped = bytearray(data)
        flipped[position] ^= 0x01
        damaged = tmp_path / "end.rrt"
        damaged.write_bytes(flipped)
        with TraceReader(damaged) as reader:
            assert list(reader.events()) == EVENTS
            assert reader.problems


def test_future_format_version(tmp_path):
    path = tmp_path / "future.rrt"
    write_trace(path, EVENTS, header=make_header(format_version=2))
    with pytest.raises(TraceVersionError) as info:
        TraceReader(path)
    message = _one_line(info.value, path)
    assert "was written by a newer rrvm (format 2, this reads 1)" in message
    assert "offset 8" in message


def test_format_version_zero_is_refused(small, tmp_path):
    path, data, index = small
    old = tmp_path / "old.rrt"
    old.write_bytes(data[:8] + struct.pack("<I", 0) + data[12:])
    with pytest.raises(TraceVersionError, match="unsupported trace format 0"):
        TraceReader(old)


@pytest.mark.parametrize("content", [
    b"hello, this is a text file\n",
    b"\x7fELF\x02\x01\x01" + bytes(100),
    b"\x88",                                        # shorter than the magic, and wrong
    MAGIC[:7] + b"X" + bytes(40),
])
def test_not_a_trace(tmp_path, content):
    path = tmp_path / "other.bin"
    path.write_bytes(content)
    with pytest.raises(TraceError) as info:
        TraceReader(path)
    assert _one_line(info.value, path).endswith("not an rrvm trace (bad magic at offset 0)")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.rrt"
    path.write_bytes(b"")
    with pytest.raises(TraceError, match="empty file") as info:
        TraceReader(path)
    _one_line(info.value, path)


def test_missing_file(tmp_path):
    path = tmp_path / "absent.rrt"
    with pytest.raises(TraceError, match="cannot open trace") as info:
        TraceReader(path)
    _one_line(info.value, path)


def test_directory_is_not_a_trace(tmp_path):
    with pytest.raises(TraceError):
        TraceReader(tmp_path)


# -- hand-crafted frames ---------------------------------------------------------------

def _craft_frame(tag: bytes, stored: bytes, raw_size: int, count: int = 0, first: int = 0,
                 last: int = 0, codec: int = CODEC_LZ4_BLOCK) -> bytes:
    """A frame with a correct crc but whatever sizes we like: what an attacker would write."""
    head = FRAME.pack(tag, codec, len(stored), raw_size, count, first, last, 0)[:FRAME.size - 4]
    return head + struct.pack("<I", zlib.crc32(stored, zlib.crc32(head))) + stored


def _start() -> bytes:
    header = pack_plain(make_header(image=None, dtb=None).to_plain(), "header")
    return pack_preamble() + pack_frame(TAG_HEAD, header, 0)


def _chunk_payload(events: int, size: int) -> bytes:
    records = [[1, i, None, bytes(size)] for i in range(events)]
    return msgpack.packb(records, use_bin_type=True)


def test_chunk_inflating_beyond_its_declared_size_is_refused(tmp_path):
    raw = _chunk_payload(4, 1 << 20)                    # 4 MiB of zeros, compresses to ~16 KiB
    stored = lz4.block.compress(raw, store_size=False)
    path = tmp_path / "bomb.rrt"
    path.write_bytes(_start() + _craft_frame(TAG_CHUNK, stored, 1 << 20, 4, 0, 3))
    reader = TraceReader(path)
    assert not reader.complete and len(reader.index) == 1
    declared = "does not decompress into the declared 1048576"
    with pytest.raises(TraceCorrupt, match=declared) as info:
        list(reader.events())
    assert f"chunk 0 at offset {len(_start())}" in _one_line(info.value, path)


def test_chunk_declaring_more_than_the_limit_is_refused_before_inflating(tmp_path):
    raw = _chunk_payload(1, 100)
    stored = lz4.block.compress(raw, store_size=False)
    path = tmp_path / "huge.rrt"
    path.write_bytes(_start() + _craft_frame(TAG_CHUNK, stored, 1 << 31, 1, 0, 0))
    with pytest.raises(TraceCorrupt, match="more than the limit of 2097152"):
        list(TraceReader(path).events())


def test_chunk_inflating_to_less_than_declared_is_refused(tmp_path):
    raw = _chunk_payload(1, 100)
    stored = lz4.block.compress(raw, store_size=False)
    path = tmp_path / "short.rrt"
    path.write_bytes(_start() + _craft_frame(TAG_CHUNK, stored, len(raw) + 10, 1, 0, 0))
    with pytest.raises(TraceCorrupt, match=f"decompresses into {len(raw)} bytes"):
        list(TraceReader(path).events())


def test_chunk_with_wrong_event_count_is_refused(tmp_path):
    raw = _chunk_payload(2, 1)
    path = tmp_path / "count.rrt"
    path.write_bytes(_start() + _craft_frame(TAG_CHUNK, lz4.block.compress(raw, store_size=False),
                                             len(raw), 3, 0, 1))
    with pytest.raises(TraceCorrupt, match="holds 2 events, its header declares 3"):
        list(TraceReader(path).events())


def test_chunk_holding_an_extension_type_is_refused(tmp_path):
    raw = msgpack.packb([[1, 0, None, msgpack.ExtType(42, b"pickle?")]], use_bin_type=True)
    path = tmp_path / "ext.rrt"
    path.write_bytes(_start() + _craft_frame(TAG_CHUNK, lz4.block.compress(raw, store_size=False),
                                             len(raw), 1, 0, 0))
    with pytest.raises(TraceCorrupt, match=r"exceeds max_ext_len\(0\)"):
        list(TraceReader(path).events())


def _header_with_image(image: dict) -> bytes:
    plain = make_header(image=None, dtb=None).to_plain()
    plain["image"] = image
    return pack_preamble() + pack_frame(TAG_HEAD, msgpack.packb(plain, use_bin_type=True), 0)


def _image_entry(data: bytes, size: int, digest: str | None = None) -> dict:
    import hashlib
    return {"name": "x.bin", "path": "x.bin", "size": size,
            "sha256": digest or hashlib.sha256(data).hexdigest(),
            "lz4": lz4.block.compress(data, store_size=False)}


def test_embedded_image_bomb_is_refused(tmp_path):
    data = bytes(8 << 20)
    path = tmp_path / "img.rrt"
    path.write_bytes(_header_with_image(_image_entry(data, 1 << 20)))
    with pytest.raises(TraceCorrupt, match="does not decompress into the declared"):
        TraceReader(path).image_bytes()
    path.write_bytes(_header_with_image(_image_entry(data, 3 << 30)))
    with pytest.raises(TraceCorrupt, match=r"header image size is out of range \(3221225472; "
                       r"allowed 0 to 1073741824\)"):    # refused at open, before inflating
        TraceReader(path)


def test_embedded_image_must_match_its_sha256(tmp_path):
    data = b"guest code" * 100
    path = tmp_path / "sha.rrt"
    path.write_bytes(_header_with_image(_image_entry(data, len(data), "0" * 64)))
    with pytest.raises(TraceCorrupt, match="does not match its sha256") as info:
        TraceReader(path).image_bytes()
    assert "header frame at offset 16" in _one_line(info.value, path)


@pytest.mark.parametrize("mutate, pattern", [
    (lambda h: h.pop("board"), "no field 'board'"),
    (lambda h: h.update(board=[1, 2]), "header board is not a map"),
    (lambda h: h.update(command_line=["rrvm", 3]), "command_line item 1 is an int"),
    (lambda h: h.update(board={"deep": msgpack.ExtType(1, b"")}), "not plain data"),
    (lambda h: h.update(board={"t": msgpack.Timestamp(0)}), "not plain data"),
    (lambda h: h["clock"].update(insns_per_tick=-1), "out of range"),
    (lambda h: h.update(engine=3), "header engine is an int, expected a string"),
    # What a crafted board would otherwise make the board allocate or trip over:
    (lambda h: h["board"].update(clock="bogus"), "header board clock is 'bogus', expected one of"),
    (lambda h: h["board"].update(ram_size="128M"), "header board ram_size is a str, expected an"),
    (lambda h: h["board"].update(ram_size=128.0 * 2**20), "ram_size is a float, expected an"),
    (lambda h: h["board"].update(ram_size=2**64 - 1), "ram_size is out of range"),
    (lambda h: h["board"].update(ram_size=1 << 40), "ram_size is out of range (1099511627776; "
                                                   "allowed 16777216 to 17179869184)"),
    (lambda h: h["board"].update(ram_size=(128 << 20) + 1), "is not a multiple of 4096"),
    (lambda h: h["board"].update(ram_size=True), "ram_size is a bool"),
    (lambda h: h["board"].update(initrd_start="0x84000000"), "initrd_start is a str"),
    (lambda h: h["board"].update(initrd_start=0x8400_0000, initrd_end=0x8400_1000),
     "places an initrd but the trace embeds none"),
    (lambda h: h["board"].update(rng_seed=b"short"), "rng_seed is 5 bytes, expected 64"),
    (lambda h: h["board"].update(bootargs="x" * (65 << 10)), "bootargs is 66560 characters"),
    (lambda h: h["board"].update(disk={"path": "d.img", "sha256": "0" * 64, "size": 1 << 50}),
     "header board disk size is out of range"),
    (lambda h: h["board"].update(disk={"path": 7, "sha256": "0" * 64, "size": 512}),
     "header board disk path is an int"),
    (lambda h: h["board"].update(virtio_rng="yes"), "virtio_rng is a str, expected a bool"),
    (lambda h: h["board"].pop("ram_size"), "header board has no field 'ram_size'"),
    (lambda h: h["clock"].update(mode="host"), "header clock mode 'host' differs from board"),
    (lambda h: h["clock"].update(timebase_hz=0), "header clock timebase_hz is out of range"),
    (lambda h: h.update(created=float("nan")), "header created is nan, expected a finite"),
    (lambda h: h.update(created="yesterday"), "header created is 'yesterday'"),
    (lambda h: h.update(rrvm_version=0.1), "header rrvm_version is a float"),
    (lambda h: h.update(disk={"name": "d", "path": "d", "size": 512, "sha256": "0" * 64,
                              "lz4": b""}), "header embeds a disk but the board has none"),
])
def test_header_schema_is_enforced(tmp_path, mutate, pattern):
    plain = make_header(image=None, dtb=None).to_plain()
    mutate(plain)
    path = tmp_path / "hdr.rrt"
    path.write_bytes(pack_preamble() + pack_frame(TAG_HEAD, msgpack.packb(plain, use_bin_type=True,
                                                                         datetime=False), 0))
    with pytest.raises(TraceCorrupt) as info:
        TraceReader(path)
    message = _one_line(info.value, path)
    assert "header frame at offset 16" in message and pattern in message, message


def test_deeply_nested_header_is_refused(tmp_path):
    plain = make_header(image=None, dtb=None).to_plain()
    deep: list = []
    plain["board"] = {"x": deep}
    for _ in range(500):
        deep.append([])
        deep = deep[0]
    path = tmp_path / "deep.rrt"
    path.write_bytes(pack_preamble() + pack_frame(TAG_HEAD, msgpack.packb(plain), 0))
    with pytest.raises(TraceCorrupt, match="nested deeper"):
        TraceReader(path)


def test_preamble_only_is_truncation(tmp_path):
    path = tmp_path / "pre.rrt"
    path.write_bytes(PREAMBLE.pack(MAGIC, 1, 0))
    with pytest.raises(TraceTruncated, match="frame header at offset 16"):
        TraceReader(path)


def test_trace_without_events_or_end(tmp_path):
    path = tmp_path / "start.rrt"
    path.write_bytes(_start())
    reader = TraceReader(path)
    assert not reader.complete and list(reader.events()) == [] and reader.problems
    assert reader.event_count == 0 and reader.last_icount is None


def test_clock_events_survive_a_truncated_copy(tmp_path):
    events = [ClockRead(i * 1000, i * 77) for i in range(5000)]
    path = tmp_path / "copy.rrt"
    write_trace(path, events, max_events=1000)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    reader = TraceReader(path)
    got = list(reader.events())
    assert got == events[:len(got)] and len(got) % 1000 == 0 and len(got) >= 1000


def test_magic_prefix_is_a_truncated_trace(tmp_path):
    path = tmp_path / "stub.rrt"
    path.write_bytes(MAGIC[:3])
    with pytest.raises(TraceTruncated, match="inside the 16-byte preamble"):
        TraceReader(path)


def _rebuild_end(data: bytes, index_entries=None, footer_map=None) -> bytes:
    """A trace whose INDX/FOOT were rewritten with valid checksums (a buggy or hostile writer)."""
    from rr.log.frames import CODEC_STORED, TAG_FOOTER, TAG_INDEX, pack_trailer, parse_trailer
    index_offset, footer_offset = parse_trailer(data[-TRAILER.size:])
    head = FRAME.unpack(data[index_offset:index_offset + FRAME.size])
    entries = msgpack.unpackb(lz4.block.decompress(
        data[index_offset + FRAME.size:footer_offset], uncompressed_size=head[3]))
    footer = msgpack.unpackb(data[footer_offset + FRAME.size:-TRAILER.size], raw=False)
    entries = index_entries(entries) if index_entries else entries
    footer = footer_map(footer) if footer_map else footer
    index_frame = pack_frame(TAG_INDEX, msgpack.packb(entries), CODEC_LZ4_BLOCK, len(entries))
    footer_frame = pack_frame(TAG_FOOTER, msgpack.packb(footer), CODEC_STORED)
    body = data[:index_offset] + index_frame
    return body + footer_frame + pack_trailer(index_offset, len(body))


def test_rebuilt_end_is_accepted_unchanged(small, tmp_path):
    path, data, index = small
    assert _rebuild_end(data) == data


def test_index_entry_disagreeing_with_its_chunk(small, tmp_path):
    path, data, index = small

    def shift(entries):
        entries[2][2] += 1                   # last icount of chunk 2
        return entries
    damaged = tmp_path / "idx.rrt"
    damaged.write_bytes(_rebuild_end(data, index_entries=shift))
    reader = TraceReader(damaged)
    with pytest.raises(TraceCorrupt, match=f"chunk 2 at offset {index[2].offset} does not match"):
        list(reader.events())


def test_index_out_of_order_falls_back_to_a_scan(small, tmp_path):
    path, data, index = small
    damaged = tmp_path / "order.rrt"
    damaged.write_bytes(_rebuild_end(data, index_entries=lambda e: e[::-1]))
    with TraceReader(damaged) as reader:
        assert list(reader.events()) == EVENTS and reader.complete
        assert "out of order" in reader.problems[0]


def test_footer_counting_other_events_is_corrupt(small, tmp_path):
    path, data, index = small

    def inflate(footer):
        footer["event_counts"]["console_input"] += 1
        return footer
    damaged = tmp_path / "foot.rrt"
    damaged.write_bytes(_rebuild_end(data, footer_map=inflate))
    with pytest.raises(TraceCorrupt, match="counts 11 events but the chunks hold 10") as info:
        TraceReader(damaged)
    _one_line(info.value, damaged)
