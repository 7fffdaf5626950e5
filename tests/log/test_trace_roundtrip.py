"""Writing and reading whole traces: header, events, index, footer, sizes, flushing."""

from __future__ import annotations

import random

import msgpack
import pytest

from rr.log import (ClockRead, ConsoleInput, EmbeddedFile, Entropy, GuestExit,
                    TraceError, TraceFooter, TraceReader, TraceWriteError,
                    TraceWriter, UserQuit, WallClockRead, encode_event)
from rr.log.frames import FORMAT_VERSION, MAGIC

from trace_helpers import make_header, trace_at, write_trace


def test_header_round_trip(tmp_path):
    image = bytes(random.Random(1).randbytes(50_000)) + bytes(200_000)
    header = make_header(image=EmbeddedFile.from_bytes(image, "/srv/guests/u-boot.bin"),
                         initrd=EmbeddedFile.from_bytes(b"070701" * 1000, "initrd.cpio"),
                         clock_mode="host", insns_per_tick=3)
    header.board.update(clock="host", initrd_start=0x8400_0000, initrd_end=0x8400_0000 + 6000)
    path = tmp_path / "h.rrt"
    write_trace(path, [UserQuit(5)], header=header)
    with TraceReader(path) as reader:
        got = reader.header
        assert got.magic == MAGIC and got.format_version == FORMAT_VERSION
        assert got.board == header.board and got.board["rng_seed"] == bytes(64)
        assert (got.clock_mode, got.insns_per_tick, got.timebase_hz) == ("host", 3, 10_000_000)
        assert got.command_line == header.command_line
        assert got.created == header.created and got.rrvm_version == header.rrvm_version
        assert got.image.name == "u-boot.bin" and got.image.path == "/srv/guests/u-boot.bin"
        assert got.image.size == len(image)
        assert reader.image_bytes() == image
        assert reader.initrd_bytes() == b"070701" * 1000
        assert reader.dtb_bytes() == header.dtb.data()


def test_header_without_embedded_files(tmp_path):
    path = tmp_path / "bare.rrt"
    write_trace(path, [], header=make_header(image=None, dtb=None))
    with TraceReader(path) as reader:
        assert reader.image_bytes() is None and reader.dtb_bytes() is None
        assert reader.complete and reader.event_count == 0 and list(reader.events()) == []
        assert reader.footer.final_icount == 5


@pytest.mark.parametrize("engine", ["native", "hook", None])
def test_header_names_the_counting_engine_when_known(tmp_path, engine):
    """A trace written before the field existed reads as 'not said' (None)."""
    header = make_header(engine=engine)
    assert ("engine" in header.to_plain()) == (engine is not None)
    path = tmp_path / "engine.rrt"
    write_trace(path, [], header=header)
    with TraceReader(path) as reader:
        assert reader.header.engine == engine


def _many_events(n: int) -> list:
    """A plausible host-clock recording: clock reads, console bytes, wall-clock reads."""
    rng = random.Random(7)
    events, icount, ns = [], 0, 10**12
    for _ in range(n):
        icount += rng.randrange(1, 5_000)
        ns += rng.randrange(1_000, 200_000)
        choice = rng.random()
        if choice < 0.8:
            events.append(ClockRead(icount, ns, pc=0xFFFF_FFFF_8000_1000 + rng.randrange(16) * 4))
        elif choice < 0.9:
            events.append(ConsoleInput(icount, bytes([rng.randrange(32, 127)]), pc=0x8020_0100))
        else:
            events.append(WallClockRead(icount, 1_700_000_000 + icount, pc=0x8020_0200))
    return events


def test_large_trace_reads_back_exactly_and_compresses(tmp_path):
    events = _many_events(100_000)
    path = tmp_path / "big.rrt"
    footer = write_trace(path, events)
    raw = sum(len(msgpack.packb(encode_event(e), use_bin_type=True)) for e in events)
    with TraceReader(path) as reader:
        assert reader.complete and not reader.problems
        assert list(reader.events()) == events
        assert reader.event_count == 100_000
        assert reader.footer.event_counts == footer.event_counts
        assert len(reader.index) >= 100_000 // 4096
        stored = sum(c.stored_size for c in reader.index)
    # lz4 squeezes the repetitive records; the frames and index cost little on top.
    assert stored < 0.6 * raw
    assert path.stat().st_size < 0.65 * raw


def test_quiet_guest_trace_is_a_few_kib(tmp_path):
    """A guest without input: a wall clock read, an rng seed, its exit. Length does not matter."""
    events = [WallClockRead(120_000, 1_700_000_000_123_456_789), GuestExit(10**11, "poweroff")]
    path = tmp_path / "quiet.rrt"
    write_trace(path, events, header=make_header(image=None, dtb=None))
    assert path.stat().st_size < 2048
    path2 = tmp_path / "quiet-with-image.rrt"
    write_trace(path2, events)
    assert path2.stat().st_size < 4096


def test_kind_and_range_filters(tmp_path):
    events = _many_events(20_000)
    path = trace_at(tmp_path, events, max_events=500)
    with TraceReader(path) as reader:
        lo, hi = events[5_000].icount, events[12_345].icount
        assert list(reader.events(start=lo, end=hi)) == events[5_000:12_345]
        assert list(reader.events(start=lo)) == events[5_000:]
        assert list(reader.events(end=hi)) == events[:12_345]
        assert list(reader.events(kinds=["console_input"])) == [
            e for e in events if isinstance(e, ConsoleInput)]
        assert list(reader.events(kinds="wall_clock_read", start=lo, end=hi)) == [
            e for e in events[5_000:12_345] if isinstance(e, WallClockRead)]
        with pytest.raises(TraceError, match="unknown event kind"):
            reader.events(kinds=["bogus"])


def test_index_covers_every_chunk_in_order(tmp_path):
    events = _many_events(3_000)
    path = trace_at(tmp_path, events, max_events=256)
    with TraceReader(path) as reader:
        index = reader.index
        assert [c.number for c in index] == list(range(len(index)))
        assert sum(c.event_count for c in index) == 3_000
        assert all(a.last_icount <= b.first_icount and a.offset < b.offset
                   for a, b in zip(index, index[1:]))
        assert list(reader.chunks()) == index
        flat = [e for chunk in index for e in reader.chunk_events(chunk)]
        assert flat == events


def test_chunks_split_by_bytes(tmp_path):
    events = [ConsoleInput(i, b"x" * 1000) for i in range(100)]
    path = trace_at(tmp_path, events, max_bytes=10_000)
    with TraceReader(path) as reader:
        assert all(c.raw_size <= 10_000 for c in reader.index)
        assert len(reader.index) >= 10
        assert list(reader.events()) == events


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_flush_at_least_every_second(tmp_path):
    clock = FakeClock()
    path = tmp_path / "timed.rrt"
    writer = TraceWriter(path, make_header(), fsync=False, clock=clock)
    writer.write(ClockRead(1, 1))
    assert TraceReader(path).event_count == 0        # still in memory
    clock.now = 0.5
    writer.write(ClockRead(2, 2))
    assert not writer.maybe_flush()
    clock.now = 1.0
    writer.write(ClockRead(3, 3))                    # a write notices the second has passed
    assert [e.icount for e in TraceReader(path).events()] == [1, 2, 3]
    writer.write(ClockRead(4, 4))
    clock.now = 2.5
    assert writer.maybe_flush()                      # an idle loop can ask too
    assert TraceReader(path).event_count == 4
    writer.close(TraceFooter(final_icount=10))


def test_flush_writes_the_pending_chunk(tmp_path):
    path = tmp_path / "f.rrt"
    writer = TraceWriter(path, make_header())
    writer.write(ConsoleInput(1, b"a"))
    writer.flush()
    writer.flush()                                   # nothing pending: no empty chunk
    reader = TraceReader(path)
    assert not reader.complete and len(reader.index) == 1
    writer.close(TraceFooter(final_icount=1))


def test_writer_refuses_time_travel_and_use_after_close(tmp_path):
    path = tmp_path / "w.rrt"
    writer = TraceWriter(path, make_header(), fsync=False)
    writer.write(ClockRead(100, 1))
    writer.write(ClockRead(100, 2))                  # same icount is fine
    with pytest.raises(TraceWriteError, match="icount 99 written after icount 100"):
        writer.write(ClockRead(99, 3))
    with pytest.raises(TraceWriteError, match="before the last event"):
        writer.close(TraceFooter(final_icount=50))
    writer.close(TraceFooter(final_icount=100))
    with pytest.raises(TraceWriteError, match="already closed"):
        writer.write(ClockRead(200, 4))
    assert TraceReader(path).footer.event_counts == {"clock_read": 2}


def test_writer_error_names_file_and_offset(tmp_path):
    path = tmp_path / "w.rrt"
    with TraceWriter(path, make_header(), fsync=False) as writer:
        with pytest.raises(TraceWriteError) as info:
            writer.write(ConsoleInput(1, "not bytes"))  # type: ignore[arg-type]
    message = str(info.value)
    assert str(path) in message and "offset" in message and "\n" not in message


def test_cannot_create_trace_in_missing_directory(tmp_path):
    with pytest.raises(TraceWriteError, match="cannot create trace"):
        TraceWriter(tmp_path / "no" / "such" / "dir.rrt", make_header())


def test_context_manager_without_close_leaves_an_incomplete_trace(tmp_path):
    path = tmp_path / "ctx.rrt"
    with pytest.raises(RuntimeError):
        with TraceWriter(path, make_header(), fsync=False) as writer:
            writer.write(ConsoleInput(1, b"a"))
            raise RuntimeError("the guest crashed the monitor")
    reader = TraceReader(path)
    assert not reader.complete and reader.footer is None
    assert [e.icount for e in reader.events()] == [1]
    assert reader.problems


def test_an_event_larger_than_a_chunk_target_gets_its_own_chunk(tmp_path):
    big = ConsoleInput(2, bytes(60 << 10))
    events = [ConsoleInput(1, b"a"), big, ConsoleInput(3, b"b")]
    path = trace_at(tmp_path, events, max_bytes=10_000)
    with TraceReader(path) as reader:
        assert [c.event_count for c in reader.index] == [1, 1, 1]
        assert list(reader.events()) == events


def test_an_event_larger_than_the_event_limit_is_refused(tmp_path):
    with TraceWriter(tmp_path / "huge.rrt", make_header(), fsync=False) as writer:
        with pytest.raises(TraceWriteError, match="'data' holds 65537 bytes, more than 65536"):
            writer.write(Entropy(1, bytes((64 << 10) + 1)))
