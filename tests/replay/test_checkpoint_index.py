"""The persistent checkpoint index (TRACE.idx): the states it restores are the replay's,
and an index that is stale, damaged or foreign is refused with one warning line while
the operation still gives the right answer.

The trace is a U-Boot session (some 15 million instructions) indexed every million
instructions, so it has fifteen checkpoints to seek between.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess

import msgpack
import pytest

from rr.log.checkpoint_file import (INDEX_MAGIC, TAG_CHECKPOINT, IndexFile, file_digest)
from rr.log.frames import CODEC_LZ4_BLOCK, FRAME, PREAMBLE, pack_frame, parse_frame
from rr.log.trace_reader import TraceReader
from rr.monitor.engine_choice import ENGINE_VARIABLE
from rr.replay.checkpoint_index import index_path, open_index

from replay_helpers import REPO, RRVM, digests_through_index, straight_digests, uboot_recording

EVERY = 1_000_000
SEED = int(os.environ.get("RRVM_SEEK_SEED", "20261202"))


def rrvm(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*RRVM, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A copy of the U-Boot trace with its index (made by `rrvm index`)."""
    rec = uboot_recording(tmp_path_factory)
    trace = tmp_path_factory.mktemp("indexed") / "uboot.rrt"
    shutil.copy(rec.trace, trace)
    proc = rrvm("index", str(trace), "--every", str(EVERY))
    assert proc.returncode == 0, proc.stderr
    assert index_path(trace).is_file()
    assert "15 checkpoints every 1,000,000 instructions" in proc.stdout, proc.stdout
    return trace


def variant(indexed, tmp_path, name="t.rrt"):
    """A copy of the indexed trace and its index, to damage."""
    trace = tmp_path / name
    shutil.copy(indexed, trace)
    shutil.copy(index_path(indexed), index_path(trace))
    return trace


@pytest.mark.parametrize("engine", ["native", "hook"])
def test_seeks_through_the_index_reach_the_replays_states(indexed, engine, monkeypatch):
    """Random positions reached through the index (restores in a session that never
    replayed from 0) have the digest a straight replay has there, with either engine."""
    monkeypatch.setenv(ENGINE_VARIABLE, engine)
    rng = random.Random(SEED)
    with TraceReader(indexed) as reader:
        end = reader.footer.final_icount
    positions = [rng.randrange(end + 1) for _ in range(6)] + [3 * EVERY, 3 * EVERY + 1, end]
    if engine == "hook":
        positions = sorted(positions)[:4] + [end]         # the hook engine is slow: fewer
    seen, verified = digests_through_index(indexed, positions)
    assert verified >= 3                              # restores happened and were checked
    assert seen == straight_digests(indexed, seen)


def test_replay_to_uses_the_index_and_prints_the_same(indexed):
    """`rrvm replay --to N` from the index prints what a replay from 0 prints: the
    console output before N and the registers at N."""
    for target in (0, 4_500_000, 14_000_001):
        used = rrvm("replay", str(indexed), "--to", str(target))
        plain = rrvm("replay", str(indexed), "--to", str(target), "--no-index")
        assert used.returncode == plain.returncode == 0, used.stderr + plain.stderr
        assert used.stdout == plain.stdout and used.stderr == plain.stderr == ""


def test_info_reports_the_index(indexed, tmp_path):
    out = rrvm("info", str(indexed)).stdout
    line = next(line for line in out.splitlines() if line.startswith("index"))
    assert "uboot.rrt.idx" in line and "15 checkpoints" in line and "KiB" in line
    bare = tmp_path / "bare.rrt"
    shutil.copy(indexed, bare)
    assert "none (`rrvm index" in rrvm("info", str(bare)).stdout


def _one_warning(proc: subprocess.CompletedProcess, words: str) -> None:
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rrvm: warning:") and words in lines[0], \
        proc.stderr
    assert "Traceback" not in proc.stderr


def _damage_checkpoint(path, edit) -> None:
    """Rewrite the third CKPT frame's map through ``edit``, with a valid crc (the
    damage only the state hash can catch)."""
    data = path.read_bytes()
    offset, found, out = PREAMBLE.size, 0, bytearray(data[:PREAMBLE.size])
    while offset < len(data):
        frame = parse_frame(offset, data[offset:offset + FRAME.size])
        whole = data[offset:frame.end]
        if frame.tag == TAG_CHECKPOINT:
            found += 1
            if found == 3:
                import lz4.block
                plain = msgpack.unpackb(lz4.block.decompress(
                    whole[FRAME.size:], uncompressed_size=frame.raw_size), raw=False)
                edit(plain)
                whole = pack_frame(TAG_CHECKPOINT, msgpack.packb(plain, use_bin_type=True),
                                   CODEC_LZ4_BLOCK, 0, frame.first_icount)
        out += whole
        offset = frame.end
    path.write_bytes(bytes(out))


def _flipped(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1:]


def _flip_inside_checkpoint(path) -> None:
    data = bytearray(path.read_bytes())
    where = data.index(TAG_CHECKPOINT, PREAMBLE.size + 1000) + FRAME.size + 20
    data[where] ^= 0x40
    path.write_bytes(bytes(data))


DAMAGE = {
    "bit flip": (_flip_inside_checkpoint, "bad crc in CKPT frame"),
    "cut short": (lambda p: p.write_bytes(p.read_bytes()[:-30]), "offset"),
    "not an index": (lambda p: p.write_bytes(b"\x00" * 4096), "not an rrvm checkpoint index"),
    "newer version": (lambda p: p.write_bytes(INDEX_MAGIC + b"\x07" + p.read_bytes()[9:]),
                      "index format version 7"),
    "registers": (lambda p: _damage_checkpoint(p, lambda c: c["harts"].__setitem__(
        0, _flipped(c["harts"][0], 8))), "restores another state"),        # x1
    "devices": (lambda p: _damage_checkpoint(p, lambda c: c["machine"]["board"]["clock"]
                                             .__setitem__("offset", 12345)),
                "restores another state"),
    "field": (lambda p: _damage_checkpoint(p, lambda c: c.__setitem__("state_hash", "xyz")),
              "checkpoint state_hash is not lowercase hex"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_index_is_refused_in_one_line_and_the_answer_stays_right(indexed, tmp_path,
                                                                          damage):
    trace = variant(indexed, tmp_path)
    edit, words = DAMAGE[damage]
    edit(index_path(trace))
    target = "2500000"                # from the third checkpoint, the one damaged
    used = rrvm("replay", str(trace), "--to", target)
    plain = rrvm("replay", str(indexed), "--to", target, "--no-index")
    _one_warning(used, words)
    assert used.returncode == 0 and used.stdout == plain.stdout


def test_an_index_of_another_trace_is_stale(indexed, tmp_path):
    """The index names its trace by hash: a trace changed after indexing (here: one
    more byte of its header's reserved field is enough) does not use it."""
    trace = variant(indexed, tmp_path)
    data = bytearray(trace.read_bytes())
    data[12] ^= 1                            # the preamble's reserved word, ignored by readers
    trace.write_bytes(bytes(data))
    used = rrvm("repl", str(trace), "-c", "goto 7000000; regs", "--no-write-index")
    plain = rrvm("repl", str(indexed), "-c", "goto 7000000; regs", "--no-index")
    _one_warning(used, "made for another trace")
    assert used.stdout == plain.stdout


def test_the_first_run_to_the_end_writes_the_index(indexed, tmp_path):
    """A repl session that runs the trace to its end leaves a valid index behind (and
    not with --no-write-index, nor when it stops earlier); the next one uses it."""
    trace = tmp_path / "fresh.rrt"
    shutil.copy(indexed, trace)
    rrvm("repl", str(trace), "-c", "goto 3000000")
    assert not index_path(trace).exists()
    assert not list(tmp_path.glob("*.tmp"))
    rrvm("repl", str(trace), "--no-write-index", "-c", "goto end")
    assert not index_path(trace).exists()
    first = rrvm("repl", str(trace), "-c", "goto end; regs")
    assert first.stderr == ""                            # a cache: written silently
    with TraceReader(trace) as reader:
        index = open_index(reader, pytest.fail)
        assert index is not None and index.file.complete
        assert index.positions == [0, 10_000_000]          # the timeline's spacing, 10 M
    again = rrvm("repl", str(trace), "-c", "goto end; regs")
    assert again.stderr == "" and again.stdout == first.stdout


def test_replay_writes_the_index_it_runs_through(indexed, tmp_path):
    trace = tmp_path / "replayed.rrt"
    shutil.copy(indexed, trace)
    proc = rrvm("replay", str(trace), "--quiet")
    assert proc.returncode == 0 and proc.stderr == ""
    index = IndexFile(index_path(trace))
    assert [c.icount for c in index.checkpoints] == [0, 10_000_000]
    assert (index.header.trace_sha256, index.header.trace_size) == file_digest(trace)


def test_the_size_bound_stops_the_index_early(indexed, tmp_path):
    """--max-size bounds the file: the checkpoints past it are left out (said so), and
    a seek past the last one replays from it."""
    trace = tmp_path / "small.rrt"
    shutil.copy(indexed, trace)
    proc = rrvm("index", str(trace), "--every", str(EVERY), "--max-size", "500K")
    assert proc.returncode == 0, proc.stderr
    assert "raise --max-size" in proc.stderr
    size = index_path(trace).stat().st_size
    assert size <= 500 * 1024
    index = IndexFile(index_path(trace))
    assert not index.complete and 1 <= len(index.checkpoints) < 15
    used = rrvm("replay", str(trace), "--to", "14500000")
    plain = rrvm("replay", str(indexed), "--to", "14500000", "--no-index")
    assert used.stdout == plain.stdout and used.stderr == ""


def test_replay_verify_checks_every_segment(indexed, tmp_path):
    good = rrvm("replay", str(indexed), "--verify", "--jobs", "2")
    assert good.returncode == 0, good.stderr
    assert "verified 15 of 15 segments" in good.stdout
    trace = variant(indexed, tmp_path)
    # The inputs' place in the event stream is not in the state hash: only the replay
    # of the segment before tells the checkpoint is wrong.
    _damage_checkpoint(index_path(trace), lambda c: c["machine"]["inputs"].__setitem__(
        "cursor", c["machine"]["inputs"]["cursor"] + 1))
    bad = rrvm("replay", str(trace), "--verify", "--jobs", "1")
    assert bad.returncode == 1 and "of 15 segments" in bad.stdout, bad.stdout + bad.stderr
    assert "segment 1 (from instruction 1000000): the devices, inputs or run loop at " \
           "instruction 2000000 are not what the index has" in bad.stderr, bad.stderr


def test_index_options_are_checked(indexed):
    for args, words in ((["--every", "10"], "at least 100,000"),
                        (["--max-size", "lots"], "--max-size"),
                        (["--max-size", "10K"], "too small for the first checkpoint"),
                        (["-o", "/nonexistent/x.idx"], "cannot write the checkpoint index")):
        proc = rrvm("index", str(indexed), *args)
        assert proc.returncode != 0 and words in proc.stderr and "Traceback" not in proc.stderr
    proc = rrvm("repl", str(indexed), "--jobs", "0", "-c", "regs")
    assert proc.returncode != 0 and "give 1 to" in proc.stderr


def test_a_search_on_workers_falls_back_when_a_checkpoint_is_forged(indexed, tmp_path):
    """The workers restore every segment's checkpoint: a forged one (its crc right, its
    state not the one its hash names) stops the split search with one warning, and the
    answer comes from the sequential search."""
    trace = variant(indexed, tmp_path)
    _damage_checkpoint(index_path(trace), lambda c: c["machine"]["board"]["clock"]
                       .__setitem__("offset", 12345))
    script = "when -p 0x10000000 1; goto 12000000; last-write -p 0x10000000 1"
    used = rrvm("repl", str(trace), "-j", "2", "-c", script)
    plain = rrvm("repl", str(indexed), "--no-index", "-c", script)
    _one_warning(used, "restores another state")
    assert used.stdout == plain.stdout and "writes to" in plain.stdout
