"""Traces do not depend on the counting engine that recorded them.

A trace recorded with the native engine replays with the hook engine and the
other way round (demo, U-Boot, Linux); replays of one trace with either engine
pass through identical states at random positions, reached through many
stops; `rrvm info` says which engine recorded.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from rr.log.trace_reader import TraceReader
from rr.monitor.engine_choice import ENGINE_VARIABLE
from rr.monitor.state_digest import state_digest

from conftest import REPO, RRVM
from replay_helpers import BIN, UBOOT, UBOOT_INPUT, open_session
from test_linux import DISK, IMAGE, INITRD, VMLINUX, boot_args

ENGINES = ("native", "hook")
TIMEOUT = 300
POSITIONS = 12
STOPS = 120


def rrvm(engine: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    env = dict(os.environ, **{ENGINE_VARIABLE: engine})
    return subprocess.run([*RRVM, *args], cwd=REPO, input=stdin, capture_output=True,
                          timeout=TIMEOUT, env=env)


def linux_args() -> list[str]:
    if not all(path.is_file() for path in (IMAGE, INITRD, DISK, VMLINUX)):
        pytest.skip("no Linux build (guests/linux/build.sh makes it)")
    return boot_args()


def uboot_args() -> list[str]:
    if not UBOOT.is_file():
        pytest.skip(f"{UBOOT} not found (install Debian's u-boot-qemu package)")
    return [str(UBOOT)]


GUESTS = {"demo": (lambda: [str(BIN / "demo.elf")], b""),
          "uboot": (uboot_args, UBOOT_INPUT),
          "linux": (linux_args, b"")}


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    """(guest, engine) -> (trace, recorder's result), recorded once per module."""
    made: dict[tuple[str, str], tuple[Path, subprocess.CompletedProcess]] = {}

    def get(guest: str, engine: str):
        if (guest, engine) not in made:
            args, stdin = GUESTS[guest]
            trace = tmp_path_factory.mktemp(f"{guest}-{engine}") / "run.rrt"
            proc = rrvm(engine, "record", *args(), "-o", str(trace), stdin=stdin)
            assert trace.is_file() and b"Traceback" not in proc.stderr, proc.stderr.decode()
            assert b"cannot run" not in proc.stderr, proc.stderr.decode()
            made[guest, engine] = trace, proc
        return made[guest, engine]
    return get


@pytest.mark.parametrize("guest", sorted(GUESTS))
@pytest.mark.parametrize("recorder", ENGINES)
def test_a_trace_replays_with_the_other_engine(traces, guest, recorder):
    trace, recorded = traces(guest, recorder)
    info = rrvm(recorder, "info", str(trace))
    assert f"engine       {recorder} " in info.stdout.decode()
    replayer = ENGINES[1 - ENGINES.index(recorder)]
    proc = rrvm(replayer, "replay", str(trace))
    assert proc.returncode == recorded.returncode, proc.stderr.decode(errors="replace")
    assert proc.stdout == recorded.stdout
    assert b"diverged" not in proc.stderr


def states(trace: Path, engine: str, positions: list[int], monkeypatch) -> dict[int, tuple]:
    """(pc, digest) at each position of ``positions``, visited in order by one replay."""
    monkeypatch.setenv(ENGINE_VARIABLE, engine)
    session = open_session(trace)
    assert session.board.cpu.engine.name == engine
    seen = {}
    for position in sorted(set(positions)):
        session.loop.run(position)
        assert session.board.cpu.icount == position
        seen[position] = (session.board.cpu.pc, state_digest(session.board))
    return seen


@pytest.mark.parametrize("guest", sorted(GUESTS))
def test_replays_pass_through_the_same_states_with_either_engine(traces, guest, monkeypatch):
    trace, _ = traces(guest, "native")
    with TraceReader(trace) as reader:
        end = reader.footer.final_icount
    rng = random.Random(f"engine-states-{guest}")
    targets = sorted(rng.randrange(end + 1) for _ in range(POSITIONS))
    stops = [rng.randrange(end + 1) for _ in range(STOPS)]
    # one position reached in a single run, from the start (the others through stops)
    straight = {engine: {targets[0]: states(trace, engine, [targets[0]], monkeypatch)[targets[0]]}
                for engine in ENGINES}
    through = {engine: states(trace, engine, targets + stops, monkeypatch) for engine in ENGINES}
    for engine in ENGINES:
        for target, state in straight[engine].items():
            assert through[engine][target] == state, (engine, target)
    for target in targets:
        assert through["native"][target] == through["hook"][target], f"{guest} at {target}"
