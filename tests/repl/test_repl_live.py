"""`rrvm repl IMAGE`: the REPL on a guest running live, its history kept as it runs.

The guest's console input comes from `type` (the terminal belongs to the
prompt); its output is printed as it first appears. Going back and forth
replays the inputs where the guest took them, so a recording made alongside
(`--record`) replays byte for byte.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from repl_helpers import BIN, PROMPT, REPO, RRVM, TIMEOUT, checked_c, elf_symbol, plain, \
    repl_env, run_c

pexpect = pytest.importorskip("pexpect")

ECHO = BIN / "echo.elf"
WAITING = "waiting for console input (`type TEXT` sends some) at instruction"


def test_typed_input_reaches_the_guest_and_history_replays_it(tmp_path):
    trace = tmp_path / "echo.rr"
    out = checked_c(ECHO, "continue; type hello; continue; when ring_head 4; rstep 3; "
                          "console; goto end; type quit; continue; info",
                    "--record", str(trace))
    # The guest idles until input comes: the command stops there and says why.
    waits = [int(n) for n in re.findall(re.escape(WAITING) + r" (\d+)", out)]
    assert len(waits) == 2 and waits[0] < waits[1], out
    assert "queued 6 bytes for the guest's console" in out
    assert out.count("echo: hello") == 2                       # printed live, then by `console`
    # `when` covers the history so far: the interrupt handler stored each byte typed.
    changes = re.findall(r"trap_handler\+0x[0-9a-f]+ +ring_head +0x(\d) -> 0x(\d)", out)
    assert [(int(a), int(b)) for a, b in changes] == [(n, n + 1) for n in range(6)], out
    assert re.search(r"-------- now: instruction \d+ \(", out)
    assert "bye" in out
    assert "the guest exited (poweroff, code 0, exit status 0)" in out
    assert f"recording    {trace}" in out
    replay = subprocess.run([*RRVM, "replay", str(trace)], cwd=REPO, capture_output=True,
                            timeout=TIMEOUT)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.replace(b"\r", b"") == b"echo: start\necho: type lines, 'quit' " \
        b"powers off\necho: hello\nbye\n"


def test_leaving_early_ends_the_recording_complete(tmp_path):
    trace = tmp_path / "timer.rr"
    checked_c(BIN / "timer.elf", "step 5000; rstep 10", "--record", str(trace))
    replay = subprocess.run([*RRVM, "replay", str(trace)], cwd=REPO, capture_output=True,
                            timeout=TIMEOUT)
    assert replay.returncode == 130, replay.stderr            # ended as a quit, verified
    assert b"stopped by the user" in replay.stderr or replay.stderr == b"", replay.stderr


def test_breakpoint_and_reverse_on_a_live_guest():
    main = elf_symbol(BIN / "timer.elf", "main")
    out = checked_c(BIN / "timer.elf", "break main; continue; step 3; rcontinue; where; "
                                       "goto end; goto +100; where")
    assert out.count(f"{main:#x} <main>") >= 2, out            # forward, then back to it
    positions = [int(n) for n in re.findall(r"^icount (\d+)  pc", out, re.M)]
    assert positions[-1] == positions[-2] + 100               # past the live edge: runs on


def test_type_on_a_trace_says_it_needs_a_live_guest(tmp_path):
    trace = tmp_path / "hello.rr"
    subprocess.run([*RRVM, "record", str(BIN / "hello.elf"), "-o", str(trace)], cwd=REPO,
                   capture_output=True, timeout=TIMEOUT, check=True)
    proc = run_c(trace, "type hi")
    assert proc.returncode == 1
    assert "type: a trace replays the input it recorded; `type` feeds a live guest" in proc.stdout


def test_ctrl_c_interrupts_a_live_guest(tmp_path):
    """compute made to run 5e9 instructions: its own 5e8 can end within the second before
    the Ctrl-C on a fast machine."""
    from conftest import patch_symbol
    compute = patch_symbol(BIN / "compute.elf", tmp_path / "compute.elf", "iterations",
                           1_000_000_000)
    child = pexpect.spawn(RRVM[0], [*RRVM[1:], "repl", str(compute)], cwd=str(REPO),
                          env=repl_env(tmp_path / "history"), encoding="utf-8", timeout=TIMEOUT,
                          dimensions=(40, 200))
    try:
        child.expect(PROMPT)
        assert "running live" in plain(child.before)
        child.sendline("continue")
        child.expect("compute: start")
        time.sleep(1.0)
        child.sendintr()
        child.expect(r"interrupted at instruction (\d+)")
        stopped = int(child.match.group(1))
        assert stopped > 0
        child.expect(PROMPT)
        child.sendline("rstep")
        child.expect(rf"icount {stopped - 1}  pc")            # history kept while live
        child.expect(PROMPT)
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)
