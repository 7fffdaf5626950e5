"""Fuzzing the reader: whatever follows a valid header, only TraceError may come out."""

from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import lz4.block
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rr.log import ConsoleInput, GuestExit, ConsoleClosed, TraceError, TraceReader
from rr.log.frames import (FRAME, FRAME_TAGS, TAG_HEAD, TRAILER, pack_frame, pack_preamble,
                           pack_trailer)
from rr.log.plain import pack_plain

from hostile_traces import (REPO, build_corpus, cpu_count, load_base, run_case,
                            write_with_header)
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


# -- the commands over a seeded corpus of hostile traces, each in a sandbox ----------------

CORPUS_SEED = 18


@pytest.fixture(scope="module")
def base_trace(tmp_path_factory):
    """A real recording of the demo guest, and what its replay printed."""
    scratch = tmp_path_factory.mktemp("base")
    trace = scratch / "demo.rrt"
    recorded = subprocess.run([sys.executable, "-m", "rr", "record", "-o", str(trace)],
                              cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert trace.exists(), recorded.stderr
    replayed = subprocess.run([sys.executable, "-m", "rr", "replay", str(trace)], cwd=REPO,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert replayed.stderr == b"", replayed.stderr
    return load_base(trace, replayed.stdout, replayed.returncode)


@pytest.fixture(scope="module")
def corpus(base_trace, tmp_path_factory):
    """Hostile traces made from the real recording (hostile_traces.py)."""
    return build_corpus(base_trace, tmp_path_factory.mktemp("corpus"), CORPUS_SEED)


def test_every_command_on_every_hostile_trace_gives_one_clean_line_or_succeeds(corpus, capsys):
    """No traceback, no hang, nothing above 4 GiB of address space, no control character on
    the terminal: one `rrvm: error:` line with a nonzero status, or a correct run."""
    jobs = [(case, command) for case in corpus for command in case.commands]
    with ThreadPoolExecutor(max_workers=cpu_count()) as pool:
        outcomes = list(pool.map(lambda job: run_case(*job), jobs))
    failures = [f"{o.case} {' '.join(o.command)}: {o.verdict}\n  stderr: "
                f"{o.stderr.decode(errors='replace')[-400:]!r}"
                for o in outcomes if o.verdict.startswith("FAIL")]
    errors = sum(o.verdict == "error" for o in outcomes)
    successes = sum(o.verdict == "success" for o in outcomes)
    with capsys.disabled():
        print(f"\nhostile trace corpus: {len(corpus)} traces, {len(outcomes)} runs, "
              f"{errors} clean errors, {successes} successes, {len(failures)} failures")
    assert not failures, "\n".join(failures)
    assert errors and successes and errors + successes == len(outcomes)


def test_corpus_cases_say_what_is_wrong(corpus):
    """A sample of crafted cases, each with the one line a user needs."""
    expected = {
        "ram-1TiB": ("info", "header board ram_size is out of range (1099511627776"),
        "clock-bogus": ("replay", "header board clock is 'bogus'"),
        "created-nan": ("info", "header created is nan, expected a finite number"),
        "disk-dev-zero": ("replay", "disk image /dev/zero: not a regular file"),
        "console-event-1MB": ("dump", "exceeds max_bin_len(65536)"),
        "events-after-guest-exit": ("info", "follows the guest_exit (event 0)"),
        "300k-tiny-events-declared": ("info", "declares 300000 events (a chunk holds 1 to 65536)"),
        "dtb-too-big": ("info", "header dtb size is 3145728 bytes, more than the 2097152"),
    }
    by_name = {case.name: case for case in corpus}
    for name, (verb, fragment) in expected.items():
        outcome = run_case(by_name[name], [verb] + (["--quiet"] if verb == "replay" else []))
        assert outcome.verdict == "error" and fragment in outcome.stderr.decode(), \
            (name, outcome.stderr)


HOSTILE_VALUES = (st.none() | st.booleans() | st.text(max_size=6) | st.binary(max_size=70)
                  | st.floats() | st.sampled_from([0, 1, -1, 4095, 4096, 16 << 20, (16 << 20) + 1,
                                                   1 << 32, 1 << 40, 2**63, 2**64 - 1, -(2**63),
                                                   0x8000_0000, 0x8400_0000])
                  | st.lists(st.integers(0, 9), max_size=3) | st.dictionaries(
                      st.sampled_from(["path", "sha256", "size", "writable"]),
                      st.none() | st.integers(-1, 1 << 33) | st.text(max_size=4), max_size=4))
HEADER_PATHS = ([("board", key) for key in ("ram_size", "bootargs", "clock", "initrd_start",
                                            "initrd_end", "stdout_path", "rng_seed", "disk",
                                            "virtio_rng")]
                + [("clock", key) for key in ("mode", "insns_per_tick", "timebase_hz")]
                + [(key,) for key in ("rrvm_version", "command_line", "created", "image",
                                      "initrd", "dtb", "disk")])


@given(st.lists(st.tuples(st.sampled_from(HEADER_PATHS), HOSTILE_VALUES), min_size=1,
                max_size=3))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_header_the_reader_accepts_builds_a_board_or_fails_in_one_line(base_trace, tmp_path,
                                                                          changes):
    """Whatever a header's fields hold, the reader refuses it with a TraceError, or the
    replay's board is built from it, or refused with an RrError: never another exception."""
    from rr.replay.trace_summary import describe
    from rr.errors import RrError
    from rr.replay.replay_session import ReplaySession

    def mutate(plain):
        for path, value in changes:
            target = plain
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
    path = write_with_header(tmp_path / "h.rrt", base_trace, mutate)
    try:
        reader = TraceReader(path)
    except TraceError as error:
        assert "\n" not in str(error)
        return
    with reader:
        assert "\x1b" not in describe(reader)
        try:
            ReplaySession(reader, lambda data: None)
        except RrError as error:
            assert "\n" not in str(error)
