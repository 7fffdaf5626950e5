"""A seeded corpus of hostile traces made from real recordings, and a sandbox to open them in.

Each case is a file plus the `rrvm` commands to run on it. The cases come
from a real trace (recorded by the test): bits flipped in each region
(preamble, header, chunks, index, footer, trailer), cuts at random points
and inside the magic, header fields crafted to what a hostile writer would
put there (wrong types, sizes past every limit, escape sequences, a disk
path naming a device or another file), event chunks a writer could never
produce (oversized data, millions of tiny events, events after the guest's
exit), and footer damage. The same seed gives the same corpus.

``run_case`` starts `python -m rr` under an address-space limit and a
timeout, and ``judge`` says whether the outcome is a clean one-line error,
a success, or a failure (traceback, hang, several error lines, control
characters on the terminal).
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import lz4.block
import msgpack

from rr.log import TraceFooter, TraceHeader, TraceReader, TraceWriter
from rr.log.frames import (CODEC_LZ4_BLOCK, FRAME, TAG_CHUNK, TRAILER, pack_frame,
                           parse_trailer)

REPO = Path(__file__).resolve().parents[2]
ADDRESS_SPACE = 4 << 30          # no case may need more (RLIMIT_AS)
CASE_TIMEOUT = 30.0              # seconds; a hang is a failure


class RawHeader(TraceHeader):
    """A header whose HEAD map is whatever the test says (a hostile writer's)."""

    def __init__(self, plain: dict[str, Any]) -> None:
        super().__init__()
        self.plain = plain

    def to_plain(self) -> dict[str, Any]:
        return self.plain


@dataclass
class Case:
    name: str
    path: Path
    commands: list[list[str]]
    # A replay that succeeds must print a prefix of this (None: any output).
    expected_console: bytes | None = None
    expected_status: int | None = None   # of a successful complete replay


@dataclass
class Outcome:
    case: str
    command: list[str]
    status: int | None              # None: killed by the timeout
    stdout: bytes
    stderr: bytes
    verdict: str = ""               # "error", "success" or "FAIL: why"


@dataclass
class Base:
    """A real trace and what its replay printed."""

    path: Path
    data: bytes
    header_plain: dict[str, Any]
    events: list
    footer: TraceFooter
    console: bytes
    status: int
    regions: dict[str, tuple[int, int]] = field(default_factory=dict)


def load_base(path: Path, console: bytes, status: int) -> Base:
    with TraceReader(path, strict=True) as reader:
        header = reader.header.to_plain()
        events = list(reader.events())
        footer = reader.footer
        index = reader.index
        data_start = reader.data_start
    data = path.read_bytes()
    index_offset, footer_offset = parse_trailer(data[-TRAILER.size:])
    regions = {"preamble": (0, 16), "header": (16, data_start),
               "chunks": (index[0].offset, index_offset) if index else (data_start, data_start),
               "index": (index_offset, footer_offset),
               "footer": (footer_offset, len(data) - TRAILER.size),
               "trailer": (len(data) - TRAILER.size, len(data))}
    return Base(path, data, header, events, footer, console, status, regions)


# -- writing crafted traces ---------------------------------------------------------------

def write_with_header(path: Path, base: Base, mutate: Callable[[dict], None]) -> Path:
    """``base`` with its HEAD map edited by ``mutate`` (events and footer unchanged)."""
    plain = msgpack.unpackb(msgpack.packb(base.header_plain, use_bin_type=True), raw=False)
    mutate(plain)
    writer = TraceWriter(path, RawHeader(plain), fsync=False)
    for event in base.events:
        writer.write(event)
    footer = base.footer
    writer.close(TraceFooter(final_icount=footer.final_icount, exit_status=footer.exit_status,
                             exit_kind=footer.exit_kind, exit_code=footer.exit_code,
                             state_hash=footer.state_hash, closed=footer.closed))
    return path


def write_with_chunks(path: Path, base: Base, chunks: list[tuple[list, int]]) -> Path:
    """``base``'s header followed by hand-made chunks ``(records, declared count)``, no end."""
    writer = TraceWriter(path, RawHeader(base.header_plain), fsync=False)
    writer.abort()
    with open(path, "ab") as f:
        for records, count in chunks:
            raw = msgpack.packb(records, use_bin_type=True)
            icounts = [r[1] for r in records if isinstance(r, list) and len(r) > 1] or [0]
            f.write(pack_frame(TAG_CHUNK, raw, CODEC_LZ4_BLOCK, count, icounts[0], icounts[-1]))
    return path


def write_with_footer(path: Path, base: Base, **changes: Any) -> Path:
    writer = TraceWriter(path, RawHeader(base.header_plain), fsync=False)
    for event in base.events:
        writer.write(event)
    footer = base.footer
    values = dict(final_icount=footer.final_icount, exit_status=footer.exit_status,
                  exit_kind=footer.exit_kind, exit_code=footer.exit_code,
                  state_hash=footer.state_hash, closed=footer.closed)
    values.update(changes)
    writer.close(TraceFooter(**values))
    return path


def embedded(data: bytes, name: str = "image.bin") -> dict[str, Any]:
    return {"name": name, "path": name, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "lz4": lz4.block.compress(data, store_size=False)}


# -- the corpus ---------------------------------------------------------------------------

def _set(*path_and_value: Any) -> Callable[[dict], None]:
    *keys, value = path_and_value

    def mutate(plain: dict) -> None:
        target = plain
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return mutate


def _header_mutations(base: Base, scratch: Path) -> dict[str, Callable[[dict], None]]:
    other_file = scratch / "other.img"
    other_file.write_bytes(b"secret" * 1000)
    big_zeros = bytes(256 << 20)

    def disk(path: str, size: int) -> Callable[[dict], None]:
        return _set("board", "disk", {"path": path, "sha256": "0" * 64, "size": size,
                                      "writable": False})

    def both(*mutations: Callable[[dict], None]) -> Callable[[dict], None]:
        def mutate(plain: dict) -> None:
            for m in mutations:
                m(plain)
        return mutate

    return {
        "ram-as-string": _set("board", "ram_size", "128M"),
        "ram-float": _set("board", "ram_size", float(128 << 20)),
        "ram-1TiB": _set("board", "ram_size", 1 << 40),
        "ram-u64-max": _set("board", "ram_size", 2**64 - 1),
        "ram-unaligned": _set("board", "ram_size", (128 << 20) + 1),
        "ram-negative": _set("board", "ram_size", -1),
        "clock-bogus": both(_set("board", "clock", "bogus"), _set("clock", "mode", "bogus")),
        "created-nan": _set("created", math.nan),
        "created-inf": _set("created", math.inf),
        "initrd-address-string": _set("board", "initrd_start", "0x84000000"),
        "initrd-outside-ram": both(_set("initrd", embedded(b"x" * 100, "initrd")),
                                   _set("board", "initrd_start", 0x1000),
                                   _set("board", "initrd_end", 0x1064)),
        "rng-seed-short": _set("board", "rng_seed", b"x"),
        "bootargs-huge": _set("board", "bootargs", "x" * 200_000),
        "timebase-zero": _set("clock", "timebase_hz", 0),
        "board-array": _set("board", [1, 2]),
        "no-image": _set("image", None),
        "image-size-lies": _set("image", dict(embedded(b"\x13" * 4096), size=64 << 20)),
        "image-sha-lies": _set("image", dict(embedded(b"\x13" * 4096), sha256="a" * 64)),
        "image-256MiB-zeros": both(_set("image", embedded(big_zeros)),
                                   _set("board", "ram_size", 1 << 30)),
        "dtb-too-big": _set("dtb", embedded(bytes(3 << 20), "virt.dtb")),
        "escape-command-line": _set("command_line", ["rrvm", "\x1b]0;owned\x07\x1b[2J",
                                                     "\r\nforged: line\x9b31m"]),
        "escape-version": _set("rrvm_version", "\x1b[31mred\x1b[0m\r"),
        "escape-image-name": lambda p: p["image"].update(name="evil\x1b[2J\nname"),
        "disk-dev-zero": disk("/dev/zero", 1 << 32),
        "disk-other-file-other-size": disk(str(other_file), 4096),
        "disk-directory": disk(str(scratch), 4096),
        "disk-missing": disk(str(scratch / "missing.img"), 4096),
        "unknown-keys-later-writers-add": both(_set("epoch", 7), _set("engine", "x"),
                                               _set("board", "future", {"a": 1})),
    }


def _event_crafts(base: Base) -> dict[str, list[tuple[list, int]]]:
    exit_icount = base.footer.final_icount
    tiny = [[5, 0, None]] * 300_000
    return {
        "console-event-1MB": [([[1, 10, None, bytes(1 << 20)]], 1)],
        "entropy-event-70KiB": [([[4, 10, None, bytes(70 << 10)]], 1)],
        "300k-tiny-events-declared": [(tiny, len(tiny))],
        "300k-tiny-events-declared-small": [(tiny, 60_000)],
        "events-after-guest-exit": [([[7, exit_icount, None, "poweroff", 0],
                                      [1, exit_icount + 5, None, b"x"]], 2)],
        "icount-u64-max": [([[1, 2**64 - 1, None, b"x"]], 1)],
        "unknown-tag": [([[99, 10, None]], 1)],
        "kind-with-escapes": [([[7, 10, None, "\x1b[2Jpoweroff", 0]], 1)],
        "wall-clock-negative": [([[3, 10, None, -(2**63)]], 1)],
        "many-chunks-of-tiny-events": [([[5, 0, None]] * 65_536, 65_536)] * 4,
    }


# Header cases that get past the reader, so the replay (board, disk) is tried too.
_REPLAYED_HEADERS = ("escape-", "disk-", "unknown-keys", "image-", "no-image")


def build_corpus(base: Base, scratch: Path, seed: int, flips_per_region: int = 3,
                 cuts: int = 8) -> list[Case]:
    """The cases, each with the commands worth running on it (a command that reads no
    more of the trace than another already run on it is left out, to keep the corpus
    quick: every run is a fresh `python -m rr`)."""
    rng = random.Random(seed)
    cases: list[Case] = []
    info, replay, dump = ["info"], ["replay", "--quiet"], ["dump"]

    def add(name: str, path: Path, commands: list[list[str]]) -> None:
        cases.append(Case(name, path, commands, base.console, base.status))

    def raw_case(name: str, data: bytes, commands: list[list[str]]) -> None:
        path = scratch / f"{len(cases):03d}-{name}.rrt"
        path.write_bytes(data)
        add(name, path, commands)

    for region, (start, end) in base.regions.items():
        for _ in range(flips_per_region if end > start else 0):
            data = bytearray(base.data)
            position = rng.randrange(start, end)
            data[position] ^= 1 << rng.randrange(8)
            raw_case(f"flip-{region}-{position}", bytes(data), [info, replay])
    for _ in range(cuts):
        cut = rng.randrange(16, len(base.data))
        raw_case(f"cut-at-{cut}", base.data[:cut], [info, replay])
    for size in (1, 4, 7):
        raw_case(f"cut-inside-magic-{size}", base.data[:size],
                 [["repl", "-c", "goto end; regs"]])
    flipped = bytearray(base.data)
    flipped[rng.randrange(8)] ^= 1 << rng.randrange(8)
    raw_case("damaged-magic", bytes(flipped), [["repl", "-c", "regs"], ["debug", "--gdb", "0"]])
    raw_case("junk-after-trailer", base.data + b"junk" * 4, [info, replay])
    for name, mutate in _header_mutations(base, scratch).items():
        path = scratch / f"{len(cases):03d}-{name}.rrt"
        replayed = name.startswith(_REPLAYED_HEADERS)
        add(name, write_with_header(path, base, mutate), [info, replay] if replayed else [info])
    for name, chunks in _event_crafts(base).items():
        path = scratch / f"{len(cases):03d}-{name}.rrt"
        add(name, write_with_chunks(path, base, chunks), [info, dump, replay])
    for name, changes in {"empty-state-hash": {"state_hash": ""},
                          "other-state-hash": {"state_hash": "ab" * 32},
                          "final-icount-later": {"final_icount": base.footer.final_icount + 1000},
                          "exit-kind-escapes": {"exit_kind": "\x1b]0;t\x07fail\r"}}.items():
        path = scratch / f"{len(cases):03d}-{name}.rrt"
        add(name, write_with_footer(path, base, **changes), [info, replay])
    return cases


# -- running and judging -----------------------------------------------------------------

def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_case(case: Case, command: list[str]) -> Outcome:
    verb, *options = command
    argv = [sys.executable, "-m", "rr", verb, str(case.path), *options]
    try:
        proc = subprocess.run(argv, cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=CASE_TIMEOUT, preexec_fn=_limits)
    except subprocess.TimeoutExpired as exc:
        return Outcome(case.name, command, None, exc.stdout or b"", exc.stderr or b"",
                       f"FAIL: no answer in {CASE_TIMEOUT:.0f} s")
    outcome = Outcome(case.name, command, proc.returncode, proc.stdout, proc.stderr)
    outcome.verdict = judge(case, outcome)
    return outcome


def _has_controls(data: bytes) -> bool:
    text = data.decode("utf-8", errors="replace")
    return any(not ch.isprintable() and ch != "\n" for ch in text)


def judge(case: Case, outcome: Outcome) -> str:
    err = outcome.stderr.decode("utf-8", errors="replace")
    if "Traceback" in err or "Exception ignored" in err:
        return "FAIL: a traceback"
    errors = [line for line in err.splitlines() if line.startswith("rrvm: error:")]
    if errors:
        lines = [line for line in err.splitlines() if line.strip()]
        if outcome.status == 0:
            return "FAIL: an error line with exit status 0"
        if len(lines) != 1:
            return f"FAIL: {len(lines)} lines on stderr"
        if len(lines[0]) > 1200 or _has_controls(outcome.stderr):
            return "FAIL: an error line too long or with control characters"
        return "error"
    verb = outcome.command[0]
    if _has_controls(outcome.stderr):
        return "FAIL: control characters on stderr"
    if verb in ("info", "dump") or (verb == "repl"):
        if outcome.status != 0:
            return f"FAIL: exit status {outcome.status} without an error line"
        if _has_controls(outcome.stdout):
            return "FAIL: control characters on stdout"
        return "success"
    if verb == "replay":
        status_ok = outcome.status in (0, case.expected_status)
        if not status_ok:
            return f"FAIL: replay exit status {outcome.status} without an error line"
        return "success"
    return f"FAIL: {verb} ended with status {outcome.status} and no error line"


def cpu_count() -> int:
    return max(1, min(2, os.cpu_count() or 1))
