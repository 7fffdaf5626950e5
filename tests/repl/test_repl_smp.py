"""The REPL on a 4-hart trace of guests/smp: `hart N`, the hart in locations, the prompt
and `when` tables."""

from __future__ import annotations

import re
import subprocess

import pytest

from repl_helpers import REPO, RRVM, InProcess, checked_c, run_c

BIN = REPO / "guests" / "bin"


@pytest.fixture(scope="module")
def smp_trace(tmp_path_factory):
    trace = tmp_path_factory.mktemp("repl-smp") / "smp4.rrt"
    done = subprocess.run([*RRVM, "record", str(BIN / "smp.elf"), "--smp", "4", "-o", str(trace)],
                          cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return trace


def test_breakpoints_name_the_hart_and_hart_n_shows_its_registers(smp_trace):
    out = checked_c(smp_trace, "break secondary_main; continue; regs a0; hart 0; regs a0 pc; "
                               "hart current; regs a0; continue; regs a0")
    locations = re.findall(r"icount (\d+)  hart (\d)  pc 0x802[0-9a-f]+ <secondary_main>", out)
    assert [hart for _, hart in locations] == ["1", "2"], out
    a0 = re.findall(r"^a0\s+0x([0-9a-f]+)", out, re.M)
    assert [int(v, 16) for v in a0] == [1, 0, 1, 2], out       # hart 0 is in main meanwhile
    table = re.findall(r"^(=>)?\s+(\*?)(\d)\s+(\w+)", out, re.M)
    assert ("=>", "", "0", "started") in table and ("", "*", "1", "started") in table, out


def test_hart_table_counts_each_harts_instructions(smp_trace):
    out = checked_c(smp_trace, "goto end; hart")
    counts = [int(n.replace(",", "")) for n in re.findall(r"(?:stopped|started)\s+0x\S+\s+\S+\s+([\d,]+)$",
                                                          out, re.M)]
    end = int(re.search(r"icount (\d+)", out).group(1))
    assert len(counts) == 4 and sum(counts) == end, out
    assert re.search(r"^\s+\d\s+stopped", out, re.M), out       # harts 1-3 stopped themselves


def test_when_lists_the_writing_hart(smp_trace):
    out = checked_c(smp_trace, "when counter")
    rows = re.findall(r"^\s+(\d+)\s+(\d)\s+0x802[0-9a-f]+\s+race\+", out, re.M)
    assert {hart for _, hart in rows} == {"0", "1", "2", "3"}, out
    assert re.search(r"icount\s+hart\s+pc", out), out


def test_bad_hart_is_one_error_line(smp_trace):
    proc = run_c(smp_trace, "hart 7")
    assert "hart: there is no hart 7 (harts 0 to 3)" in proc.stdout + proc.stderr


def test_prompt_shows_the_hart(smp_trace):
    repl = InProcess(smp_trace)
    repl.run("break secondary_main")
    repl.run("continue")
    assert repl.prompt() == "[30007 hart 1 secondary_main] rr> "
    repl.run("hart 0")
    assert re.fullmatch(r"\[30007 hart 0 main\+0x[0-9a-f]+\] rr> ", repl.prompt())
