"""Helpers for the REPL tests: recordings made once per session, `rrvm repl` runs, pexpect.

Not a conftest.py (see tests/replay/replay_helpers.py for why). The demo
guest seeds its workload from the RTC, so a recording crashes only sometimes:
``crashing_demo`` records until one run ends with the list corruption crash.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import patch_symbol

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "guests" / "bin"
RRVM = [sys.executable, "-m", "rr"]
TIMEOUT = 120
POISON = 0xDEAD000000000100
# A compute guest patched to run long enough (1.5e9 instructions) for a Ctrl-C to land.
LONG_COMPUTE_ITERATIONS = 300_000_000
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# The interactive prompt, with whatever colour codes come between its parts.
PROMPT = r"\[(\d+) ([^\]\x1b]+)\](?:\x1b\[[0-9;]*m)* rr> "


@dataclasses.dataclass(frozen=True)
class Recorded:
    trace: Path
    stdout: bytes
    status: int


_recordings: dict[str, Recorded] = {}


def record(trace: Path, guest: Path | str) -> Recorded:
    proc = subprocess.run([*RRVM, "record", str(guest), "-o", str(trace)], cwd=REPO, input=b"",
                          capture_output=True, timeout=TIMEOUT)
    assert trace.is_file(), proc.stderr.decode(errors="replace")
    return Recorded(trace, proc.stdout, proc.returncode)


def _cached(key: str, tmp_path_factory, make) -> Recorded:
    if key not in _recordings:
        _recordings[key] = make(tmp_path_factory.mktemp(key))
    return _recordings[key]


def crashing_demo(tmp_path_factory) -> Recorded:
    """A demo trace that ends in the LIST_POISON page fault (retries until a run crashes so)."""
    def make(folder: Path) -> Recorded:
        for attempt in range(40):
            rec = record(folder / f"demo{attempt}.rrt", BIN / "demo.elf")
            if rec.status == 1 and b"stval is LIST_POISON" in rec.stdout:
                return rec
        pytest.fail("40 demo recordings and none crashed on LIST_POISON")
    return _cached("demo_crash", tmp_path_factory, make)


def timer_recording(tmp_path_factory) -> Recorded:
    def make(folder: Path) -> Recorded:
        rec = record(folder / "timer.rrt", BIN / "timer.elf")
        assert rec.status == 0
        return rec
    return _cached("timer", tmp_path_factory, make)


def long_compute(tmp_path_factory) -> Recorded:
    """guests/bin/compute.elf with `iterations` patched: a 1.5e9-instruction trace."""
    def make(folder: Path) -> Recorded:
        elf = patch_symbol(BIN / "compute.elf", folder / "compute_long.elf", "iterations",
                           LONG_COMPUTE_ITERATIONS)
        rec = record(folder / "compute_long.rrt", elf)
        assert rec.status == 0, rec.stdout
        return rec
    return _cached("compute_long", tmp_path_factory, make)


def elf_symbol(elf: Path, name: str) -> int:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        return ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]["st_value"]


# --- running the REPL ----------------------------------------------------------------------

def repl_env(history: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["RRVM_HISTORY"] = str(history) if history else os.devnull
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"     # pexpect does not answer cursor position requests
    env["TERM"] = "xterm"
    return env


def run_c(trace: Path, commands: str, *options: str, history: Path | None = None
          ) -> subprocess.CompletedProcess:
    """`rrvm repl TRACE -c COMMANDS` with output captured as text."""
    return subprocess.run([*RRVM, "repl", str(trace), *options, "-c", commands], cwd=REPO,
                          capture_output=True, text=True, timeout=TIMEOUT,
                          env=repl_env(history))


def checked_c(trace: Path, commands: str, *options: str) -> str:
    proc = run_c(trace, commands, *options)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr + proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


class InProcess:
    """A Repl in this process with plain output captured: ``run(line)`` returns the text."""

    def __init__(self, trace: Path) -> None:
        from rr.log.trace_reader import TraceReader
        from rr.repl.app import load_symbols
        from rr.repl.commands import Repl
        from rr.repl.debugger import Debugger
        from rr.repl.formatting import Printer
        from rr.repl.history import TraceHistory

        reader = TraceReader(trace)
        symbols, _ = load_symbols(reader.image_bytes(), "the embedded image", None)
        self.buffer = io.StringIO()
        self.debugger = Debugger(TraceHistory(reader), symbols)
        self.repl = Repl(self.debugger, Printer(colour=False, stream=self.buffer))

    def run(self, line: str) -> str:
        self.buffer.seek(0)
        self.buffer.truncate()
        assert self.repl.execute(line), self.buffer.getvalue()
        return self.buffer.getvalue()

    def prompt(self) -> str:
        from rr.repl.app import prompt_text
        return prompt_text(self.debugger, colour=False)


def spawn(trace: Path, history: Path, *options: str):
    """`rrvm repl TRACE` on a pseudo-terminal (pexpect), waiting for the first prompt."""
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(sys.executable, ["-m", "rr", "repl", str(trace), *options], cwd=str(REPO),
                          env=repl_env(history), encoding="utf-8", timeout=60,
                          dimensions=(50, 200))
    child.expect(PROMPT)
    return child


def plain(text: str) -> str:
    return ANSI.sub("", text)


# --- parsing `when` tables --------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class WriteRow:
    icount: int
    pc: int
    function: str
    where: str
    old: int
    new: int


_ROW = re.compile(r"^\s*(?:=>)?\s*(\d+)\s+(0x[0-9a-f]+)\s+(\S+)\s+(\S+)\s+(0x[0-9a-f]+)"
                  r"(?: -> (0x[0-9a-f]+)| \(unchanged\))\s*$")


def write_rows(text: str) -> list[WriteRow]:
    rows = []
    for line in text.splitlines():
        match = _ROW.match(line)
        if match:
            old = int(match.group(5), 16)
            new = int(match.group(6), 16) if match.group(6) else old
            rows.append(WriteRow(int(match.group(1)), int(match.group(2), 16), match.group(3),
                                 match.group(4), old, new))
    return rows
