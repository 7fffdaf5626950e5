"""`rrvm repl TRACE` on a real terminal (pexpect): prompt, completion, Ctrl-C, history."""

from __future__ import annotations

import re
import time

import pytest

from repl_helpers import PROMPT, REPO, RRVM, crashing_demo, long_compute, plain, repl_env, spawn, \
    timer_recording

pexpect = pytest.importorskip("pexpect")


@pytest.fixture(scope="module")
def timer(tmp_path_factory):
    return timer_recording(tmp_path_factory).trace


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return crashing_demo(tmp_path_factory).trace


def command(child, line: str, expect: str) -> str:
    """Send a line and read prompts until the output (colour codes removed) matches ``expect``.

    Returns that output; ``child.match`` is then the prompt that followed it.
    """
    child.sendline(line)
    seen = ""
    while True:
        child.expect(PROMPT)
        seen += child.before + child.after
        if re.search(expect, plain(seen)):
            return plain(seen)


def quit_with_ctrl_d(child) -> None:
    time.sleep(0.3)                      # let prompt-toolkit take the terminal back first
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.wait()
    assert child.exitstatus == 0


def test_prompt_shows_instruction_count_and_function(timer, tmp_path):
    child = spawn(timer, tmp_path / "history")
    assert "rrvm repl:" in plain(child.before) and "symbols from the embedded timer.elf" in \
        plain(child.before)
    assert child.match.group(1) == "0" and child.match.group(2) == "_start"
    command(child, "goto 9000", r"icount 9000  pc")
    assert (child.match.group(1), child.match.group(2)) == ("9000", "put_num+0x38")
    command(child, "break main+24", r"Breakpoint 1 at")
    command(child, "goto start", r"icount 0  pc")
    command(child, "continue", r"icount \d+  pc 0x[0-9a-f]+ <main\+0x18>")
    assert child.match.group(2) == "main+0x18"
    quit_with_ctrl_d(child)


def test_tab_completes_commands_symbols_and_registers(timer, tmp_path):
    child = spawn(timer, tmp_path / "history")
    child.send("wher\t")
    time.sleep(0.3)
    out = command(child, "", r"priv    S \(supervisor\)")
    assert "icount  0 of" in out
    child.send("break trap_han\t")         # trap_handler is the only symbol with that prefix
    time.sleep(0.3)
    command(child, "", r"Breakpoint 1 at 0x[0-9a-f]+ <trap_handler>")
    child.send("regs sst\t")
    time.sleep(0.3)
    command(child, "", r"sstatus +0x[0-9a-f]{16}")
    child.send("print $sc\t")              # $scause: registers after a $
    time.sleep(0.3)
    command(child, "", r"\n0x0  0")
    child.send("watch -a tic\t")
    time.sleep(0.3)
    command(child, "", r"Watchpoint 2 \(access\) on 0x[0-9a-f]+ <ticks>, 8 bytes")
    child.send("wh\t\t")                   # ambiguous: both candidates are listed
    time.sleep(0.3)
    child.expect("when")
    child.expect("where")
    child.sendcontrol("u")
    child.sendline("")
    quit_with_ctrl_d(child)


def test_ctrl_c_interrupts_a_long_command_and_the_prompt_comes_back(tmp_path_factory, tmp_path):
    trace = long_compute(tmp_path_factory).trace
    child = spawn(trace, tmp_path / "history")
    # `when` replays all 1.5e9 instructions: interrupted, it goes back where it started.
    child.sendline("when checksum")
    time.sleep(1.0)
    child.sendintr()
    child.expect(r"interrupted; back at instruction 0")
    child.expect(PROMPT)
    assert child.match.group(1) == "0"
    # A forward movement stays where it got to.
    child.sendline("goto end")
    time.sleep(1.0)
    child.sendintr()
    child.expect(r"interrupted at instruction (\d+)")
    reached = int(child.match.group(1))
    assert 0 < reached < 1_500_000_000
    child.expect(PROMPT)
    assert int(child.match.group(1)) == reached
    assert child.match.group(2).startswith("compute_loop")
    # Ctrl-C at the prompt only drops the line; the REPL goes on.
    child.send("garbage")
    child.sendintr()
    out = command(child, "where", r"priv    S")
    assert f"icount  {reached} of" in out and "garbage" not in out.split("where")[-1]
    child.sendline("quit")
    child.expect(pexpect.EOF)
    child.wait()
    assert child.exitstatus == 0
    assert "Traceback" not in (child.before or "")


def test_history_is_kept_across_sessions(timer, tmp_path):
    history = tmp_path / "state" / "history"
    child = spawn(timer, history)
    command(child, "goto 1234", r"icount 1234  pc")
    command(child, "regs sp", r"sp +0x")
    quit_with_ctrl_d(child)
    saved = history.read_text()
    assert "+goto 1234" in saved and "+regs sp" in saved

    child = spawn(timer, history)
    child.send("\x1b[A")                     # up: regs sp
    time.sleep(0.2)
    child.send("\x1b[A")                     # up: goto 1234
    time.sleep(0.2)
    command(child, "", r"icount 1234  pc")
    assert child.match.group(1) == "1234"
    quit_with_ctrl_d(child)
    assert history.read_text().count("+goto 1234") == 2


def test_bad_commands_give_one_line_and_the_prompt(demo, tmp_path):
    child = spawn(demo, tmp_path / "history")
    for line, message in (("frobnicate", "unknown command 'frobnicate'; `help` lists the commands"),
                          ("goto nowhere", "goto: 'nowhere': not a valid instruction count"),
                          ("x 0x10 16", "0x10: not readable ("),
                          ("watch", "watch: usage: watch [-r|-a] [-p] ADDR|SYMBOL [LEN]")):
        out = command(child, line, re.escape(message))
        assert "Traceback" not in out
        assert child.match.group(1) == "0"
    quit_with_ctrl_d(child)


def test_commands_from_a_pipe(timer):
    import subprocess
    proc = subprocess.run([*RRVM, "repl", str(timer)], cwd=REPO, input="goto 1000\nwhere; quit\nregs\n",
                          capture_output=True, text=True, timeout=60, env=repl_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("icount 1000  pc 0x80200020 <_start+0x20>")
    assert "trap    not in a trap handler" in proc.stdout
    assert "zero 0x" not in proc.stdout      # quit ended the session
    assert "\x1b[" not in proc.stdout
