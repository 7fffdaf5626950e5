"""Stock gdb-multiarch against a 4-hart trace of guests/smp: each hart is a thread.

As with QEMU's stub, hart h is thread h + 1. A breakpoint fires on whichever
hart reaches it and gdb switches to that hart's thread; `stepi` steps the
selected hart and `reverse-stepi` takes it back to its own previous
instruction, whatever the other harts ran in between.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from gdb_helpers import (BIN, GDB, REPO, RRVM, DebugServer, RspClient, StubServer, run_gdb,
                         source_line)

pytestmark = pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")

HARTS = 4


def _symbol(name: str) -> int:
    with open(BIN / "smp.elf", "rb") as f:
        return ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]["st_value"]


@pytest.fixture(scope="module")
def smp_trace(tmp_path_factory):
    trace = tmp_path_factory.mktemp("gdb-smp") / "smp4.rr"
    done = subprocess.run([*RRVM, "record", str(BIN / "smp.elf"), "--smp", str(HARTS),
                           "-o", str(trace)], cwd=REPO, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return trace


def test_info_threads_lists_every_hart(smp_trace):
    with DebugServer(smp_trace) as server:
        out = run_gdb("smp.elf", server.port, ["info threads"]).output
    for hart in range(HARTS):
        assert re.search(rf"^\*?\s+{hart + 1}\s+Thread {hart + 1} \(hart {hart}\)", out, re.M), out


def test_breakpoint_on_hart_2_selects_thread_3(smp_trace):
    entry = _symbol("secondary_main")
    with DebugServer(smp_trace) as server:
        out = run_gdb("smp.elf", server.port, [
            f"break *{entry:#x} if $a0 == 2", "continue", 'printf "HART %d\\n", $a0',
            "thread"]).output
    assert "Thread 3 hit Breakpoint 1" in out, out
    assert "HART 2" in out
    assert "Current thread is 3" in out


def test_stepi_and_reverse_stepi_move_the_selected_hart(smp_trace):
    entry = _symbol("secondary_main")
    with DebugServer(smp_trace) as server:
        out = run_gdb("smp.elf", server.port, [
            f"break *{entry:#x} if $a0 == 1", "continue", "delete",
            "thread 1", 'printf "OTHER %lx\\n", $pc',
            "thread 2", "stepi", 'printf "STEPPED %lx\\n", $pc', "thread",
            "reverse-stepi", 'printf "BACK %lx\\n", $pc', "thread",
            "reverse-stepi", 'printf "BEFORE %lx\\n", $pc']).output
    stepped = int(re.search(r"STEPPED ([0-9a-f]+)", out).group(1), 16)
    back = int(re.search(r"BACK ([0-9a-f]+)", out).group(1), 16)
    before = int(re.search(r"BEFORE ([0-9a-f]+)", out).group(1), 16)
    assert stepped in (entry + 2, entry + 4), out      # one instruction of hart 1
    assert back == entry, out
    assert out.count("Current thread is 2") == 2, out
    call = _symbol("secondary_entry")
    assert call < before < entry or before > call, out  # hart 1's call into secondary_main
    assert before != int(re.search(r"OTHER ([0-9a-f]+)", out).group(1), 16)


def test_reverse_continue_across_harts(smp_trace):
    """From the end, reverse-continue to the last hart that entered secondary_main, then
    to the one before it: each stop names the hart that ran the instruction."""
    entry = _symbol("secondary_main")
    with DebugServer(smp_trace) as server:
        out = run_gdb("smp.elf", server.port, [
            "continue", f"break *{entry:#x}",
            "reverse-continue", 'printf "HART %d\\n", $a0',
            "reverse-continue", 'printf "HART %d\\n", $a0',
            "reverse-continue", 'printf "HART %d\\n", $a0',
            "reverse-continue"]).output
    harts = [int(n) for n in re.findall(r"HART (\d+)", out)]
    threads = [int(n) for n in re.findall(r"Thread (\d+) hit Breakpoint 1", out)]
    assert sorted(harts) == [1, 2, 3], out
    assert threads == [hart + 1 for hart in harts], out
    assert "No more reverse-execution history." in out


def test_rsp_thread_packets(smp_trace):
    """qfThreadInfo lists the harts, Hg picks whose registers g reads, a bad id is refused."""
    entry = _symbol("secondary_main")
    with DebugServer(smp_trace) as server:
        client = RspClient(server.port)
        assert client.request("qfThreadInfo") == "m1,2,3,4"
        assert client.request("qsThreadInfo") == "l"
        assert client.request("qC") == "QC1"
        assert client.request("Hg5").startswith("E")
        assert client.request(f"Z0,{entry:x},2") == "OK"
        for _ in range(3):                  # harts 1, 2, 3 enter, in some order
            reply = client.request("c")
            thread = int(re.match(r"T05thread:([0-9a-f]+);", reply).group(1), 16)
            assert register(client, "a") == thread - 1, reply       # a0: its hart id
            assert register(client, "20") == entry                   # pc
            assert client.request("Hg1") == "OK"                     # hart 0 never runs it
            assert register(client, "20") != entry
            assert client.request(f"Hg{thread:x}") == "OK"
            assert register(client, "20") == entry


def register(client, number: str) -> int:
    return int.from_bytes(bytes.fromhex(client.request(f"p{number}")), "little")


def test_live_guest_with_two_harts():
    """`rrvm run --smp 2 --gdb`: the same threads on a guest running live, to its end."""
    entry = _symbol("secondary_main")
    with StubServer("run", str(BIN / "smp.elf"), "--smp", "2", "--gdb", "0", "--wait") as server:
        out = run_gdb("smp.elf", server.port, [
            "info threads", f"break *{entry:#x}", "continue", "stepi", "reverse-stepi",
            'printf "BACK %lx\\n", $pc', "delete", "continue"]).output
    assert "Thread 2 (hart 1)" in out
    assert "Thread 2 hit Breakpoint 1" in out
    assert f"BACK {entry:x}" in out
    assert "exited normally" in out


@pytest.fixture(scope="module")
def spaces_trace(tmp_path_factory):
    trace = tmp_path_factory.mktemp("gdb-spaces") / "spaces.rr"
    done = subprocess.run([*RRVM, "record", str(BIN / "spaces.elf"), "--smp", "2",
                           "-o", str(trace)], cwd=REPO, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return trace


def test_watchpoint_follows_each_harts_address_space(spaces_trace):
    """guests/spaces: both harts store through one virtual address, each mapped to a page
    of its own; the watch stops on each store, on the thread of the hart that made it,
    and not on hart 0's store into hart 1's page through another address (which
    reverse-continue shows: it stops before hart 1's last store, with 7 there)."""
    with DebugServer(spaces_trace) as server:
        out = run_gdb("spaces.elf", server.port, [
            "watch *(long *)0x40000000",
            *["continue", 'printf "VALUE %d\\n", *(long *)0x40000000'] * 3,
            "reverse-continue", 'printf "BACK %d\\n", *(long *)0x40000000']).output
    threads = [int(n) for n in re.findall(r"Thread (\d+) [^\n]*hit Hardware watchpoint 1", out)]
    assert threads == [2, 1, 2, 2], out
    values = [int(n) for n in re.findall(r"VALUE (\d+)", out)]
    assert values == [101, 100, 102], out
    # back to before hart 1's last store: hart 1 sees what hart 0 put in its page
    assert "BACK 7" in out, out


@pytest.fixture(scope="module")
def sstc_trace(tmp_path_factory):
    trace = tmp_path_factory.mktemp("gdb-sstc") / "sstc2.rr"
    done = subprocess.run([*RRVM, "record", str(BIN / "sstc.elf"), "--smp", "2", "--sstc",
                           "-o", str(trace)], cwd=REPO, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return trace


SSTC_SOURCE = REPO / "guests" / "sstc" / "sstc.c"


def test_with_sstc_each_thread_shows_its_harts_stimecmp_both_ways(sstc_trace):
    """A board with Sstc describes stimecmp (G20): each thread reads its hart's timer
    comparator. guests/sstc writes all ones, then SBI set_timer(0) writes 0, on each
    hart; every stop after either, forwards and after a reverse-continue, shows that."""
    far = source_line(SSTC_SOURCE, '"sstc: hart %lu: stimecmp far ahead')
    zero = source_line(SSTC_SOURCE, '"sstc: hart %lu: SBI set_timer(0)')
    report = 'printf "AT %d 0x%lx 0x%lx\\n", $_thread, $pc, $stimecmp'
    commands = [f"break sstc.c:{far}", f"break sstc.c:{zero}"]
    commands += ["continue", report] * 4 + ["reverse-continue", report, "info registers stimecmp"]
    with DebugServer(sstc_trace) as server:
        gdb = run_gdb("sstc.elf", server.port, commands)
    out = gdb.stdout
    placed = dict((int(line), int(address, 16)) for address, line in
                  re.findall(r"^Breakpoint \d+ at (0x[0-9a-f]+): file .*sstc\.c, line (\d+)\.$",
                             gdb.output, re.M))
    expected = {placed[far]: (1 << 64) - 1, placed[zero]: 0}
    stops = [(int(thread), int(pc, 16), int(value, 16))
             for thread, pc, value in re.findall(r"^AT (\d+) (0x[0-9a-f]+) (0x[0-9a-f]+)$", out,
                                                 re.M)]
    assert len(stops) == 5, gdb.output
    for thread, pc, value in stops:
        assert value == expected[pc], (thread, hex(pc), hex(value), gdb.output)
    assert {thread for thread, _, _ in stops[:4]} == {1, 2}
    assert stops[4] == stops[2], gdb.output          # reverse-continue: the stop before the last
    assert re.search(r"^stimecmp\s+0x[0-9a-f]+", out, re.M), out
