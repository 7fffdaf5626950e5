"""Every event kind survives encoding, and nothing off-schema is accepted."""

from __future__ import annotations

import msgpack
import pytest

from rr.log import (EVENT_TYPES, ClockRead, ConsoleInput, GuestExit, TraceError, TraceReader, decode_event, encode_event, format_event,
                    kind_names, kind_of_tag, tag_of, tags_for)

from trace_helpers import ONE_OF_EACH, trace_at


def test_one_of_each_covers_every_kind():
    assert {type(e) for e in ONE_OF_EACH} == set(EVENT_TYPES)


def test_encode_decode_round_trip():
    for event in ONE_OF_EACH:
        record = msgpack.unpackb(msgpack.packb(encode_event(event), use_bin_type=True), raw=False)
        assert decode_event(record) == event


def test_every_kind_round_trips_through_a_file(tmp_path):
    path = trace_at(tmp_path, ONE_OF_EACH, max_events=2)
    with TraceReader(path) as reader:
        assert list(reader.events()) == ONE_OF_EACH
        assert reader.footer.event_counts == {kind: 1 for kind in kind_names()}


def test_registry_maps_names_and_tags_both_ways():
    assert len(set(kind_names())) == len(EVENT_TYPES)
    for cls in EVENT_TYPES:
        assert kind_of_tag(tag_of(cls.KIND)) == cls.KIND
    assert tags_for(["console_input", ClockRead]) == {ConsoleInput.TAG, ClockRead.TAG}


def test_unknown_kind_name_is_an_error():
    with pytest.raises(TraceError, match="unknown event kind 'keyboard'"):
        tags_for(["keyboard"])


def test_pc_is_optional_and_checked():
    assert ConsoleInput(5, b"x").pc is None
    assert decode_event([1, 5, 0x8020_0000, b"x"]).pc == 0x8020_0000
    with pytest.raises(TraceError, match="pc"):
        decode_event([1, 5, -1, b"x"])


@pytest.mark.parametrize("record", [
    "not a list",
    [],
    [1, 5],
    [99, 5, None],                      # unknown tag
    [1, 5, None],                       # missing data
    [1, 5, None, "text"],               # str where bytes belong
    [1, -5, None, b"x"],                # negative icount
    [1, 1 << 64, None, b"x"],           # icount beyond u64 (not even msgpack can hold it)
    [2, 5, None, 1.5],                  # float ns
    [2, 5, None, True],                 # bool is not an int here
    [7, 5, None, "poweroff"],           # guest exit without code
    [7, 5, None, b"poweroff", 0],       # bytes where str belongs
    [5, 5, None, 512, 10, 3],           # extra field
    [1, 5, None, msgpack.ExtType(1, b"x")],
])
def test_off_schema_records_are_refused(record):
    with pytest.raises(TraceError):
        decode_event(record)


def test_writer_refuses_what_the_reader_would_refuse():
    with pytest.raises(TraceError):
        encode_event(ConsoleInput(5, "text"))  # type: ignore[arg-type]
    with pytest.raises(TraceError):
        encode_event(ClockRead(5, "late"))  # type: ignore[arg-type]


def test_format_event_is_one_line():
    lines = [format_event(e) for e in ONE_OF_EACH]
    assert all("\n" not in line for line in lines)
    assert "console_input" in lines[0] and "pc=0x80200010" in lines[0]
    assert format_event(GuestExit(9, "poweroff")).split()[:2] == ["9", "guest_exit"]
