"""`rrvm run` and `rrvm record` load only what running a guest needs.

Start-up is most of a short run's wall time, and most of start-up is
imports: the disassembler, the ELF/DWARF library, the gdb stub, the replay
engine and the REPL's terminal toolkit are loaded only by the commands (or
the diagnostics) that use them. The runs here go through the real command
line entry point in a fresh interpreter and then list what got imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO

HELLO = REPO / "guests" / "bin" / "hello.elf"
# Packages and modules a plain run must not import (a run is a Session of
# rr/replay/session.py, but none of the time-travel machinery)...
UNWANTED = ("capstone", "elftools", "prompt_toolkit", "rr.repl", "rr.gdbstub",
            "rr.replay.timeline", "rr.replay.checkpoints", "rr.replay.hits",
            "rr.replay.replay_session", "rr.replay.live_session",
            "rr.replay.checkpoint_index", "rr.replay.segments", "rr.log.checkpoint_file",
            "dask", "distributed", "concurrent.futures.process", "multiprocessing")
# ...but for the gdb options' defaults and limits, all `rrvm run` takes from the stub.
ALLOWED = {"rr.gdbstub", "rr.gdbstub.constants"}

PROBE = """
import json, sys
from rr.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def modules_after(*argv: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=REPO, capture_output=True,
                          stdin=subprocess.DEVNULL, text=True, timeout=60)
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["status"] == 0, proc.stderr
    return report["modules"]


def unwanted(modules: list[str]) -> list[str]:
    return [name for name in modules if name not in ALLOWED
            and any(name == package or name.startswith(package + ".") for package in UNWANTED)]


@pytest.mark.skipif(not HELLO.is_file(), reason="guests/bin/hello.elf not built")
@pytest.mark.parametrize("command", ["run", "record"])
def test_running_a_guest_loads_no_debugger(command, tmp_path):
    extra = ["-o", str(tmp_path / "hello.rrt")] if command == "record" else []
    modules = modules_after(command, str(HELLO), *extra)
    assert "unicorn" in modules and "rr.monitor.run_loop" in modules   # it did run
    assert unwanted(modules) == []


def test_the_probe_sees_what_a_debugger_command_loads(tmp_path):
    """The check can fail: `rrvm dtb` is light too, but a trace command pulls the replay in."""
    trace = tmp_path / "hello.rrt"
    modules_after("record", str(HELLO), "-o", str(trace))
    assert "rr.replay.replay_session" in modules_after("replay", str(trace), "--quiet")


def test_a_repl_script_loads_no_terminal_toolkit(tmp_path):
    """`rrvm repl TRACE -c ...` prints plain text: prompt-toolkit is the prompt's and
    colour's, and a script's start (which segment searches pay for) goes without it."""
    trace = tmp_path / "hello.rrt"
    modules_after("record", str(HELLO), "-o", str(trace))
    modules = modules_after("repl", str(trace), "-c", "regs")
    assert "rr.repl.commands" in modules and "prompt_toolkit" not in modules
