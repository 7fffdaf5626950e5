"""Where the harts' translated code lands: within 2 GiB of libunicorn's code.

Translated code calls unicorn's helpers (the block hook, memory accesses,
block lookups) directly when they are within 2 GiB, through a register
otherwise; an engine placed further away ran a block-bound loop about a
third slower. A board makes its one engine, which all its harts run in
(rr/monitor/hart_engine.py), after the calibrations' scratch engines are
freed (rr/monitor/cpu.py, prepare_engines), so that its code lands near the
library. Checked in a fresh process, whose mappings no other test has
touched, on both counting engines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

REACH = 2 << 30                      # a rel32 call's reach
CODE_BUFFER = 1 << 30                # unicorn's translated code buffer, less a guard page
PROBE = """
import json, sys
from rr.monitor.board import Board, BootPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.inputs import HostInputs
from rr.monitor.loader import parse_image
harts = int(sys.argv[1])
config = BoardConfig(harts=harts)
image = parse_image("smp.elf", open("guests/bin/smp.elf", "rb").read())
board = Board(config, BootPayload(image), HostInputs(None), lambda data: None)
for hart in board.harts:
    hart.cpu.run(1)                  # every hart translates something
maps = []
for line in open("/proc/self/maps"):
    fields = line.split()
    start, end = (int(x, 16) for x in fields[0].split("-"))
    maps.append([start, end, fields[1], fields[-1] if len(fields) > 5 else ""])
print(json.dumps(maps))
"""


def mappings(harts: int, engine: str) -> list[list]:
    done = subprocess.run([sys.executable, "-c", PROBE, str(harts)], cwd=REPO, capture_output=True,
                          timeout=120, env={**os.environ, "RRVM_ENGINE": engine})
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return json.loads(done.stdout)


@pytest.mark.parametrize("engine", ["native", "hook"])
@pytest.mark.parametrize("harts", [1, 2, 4, 8])
def test_the_harts_code_is_in_one_buffer_within_reach_of_libunicorn(harts, engine):
    maps = mappings(harts, engine)
    library = [(start, end) for start, end, mode, path in maps
               if "libunicorn" in path and "x" in mode]
    assert library, "libunicorn's code is not mapped"
    low, high = min(s for s, _ in library), max(e for _, e in library)
    buffers = [(start, end) for start, end, mode, _ in maps
               if mode.startswith("rwx") and CODE_BUFFER - (1 << 20) <= end - start <= CODE_BUFFER]
    assert len(buffers) == 1, [hex(s) for s, _ in buffers]
    for start, end in buffers:
        assert high - start < REACH and end - low < REACH, (hex(start), hex(low))
