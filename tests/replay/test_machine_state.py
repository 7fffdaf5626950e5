"""A hart's registers as plain bytes carry over to another process (docs/checkpoint-index.md).

A saved unicorn context starts with a header holding pointers of the process
that saved it; only the data after it is stored in an index. Two processes
that set the same registers have the same data but different headers, and
data put back by ``load_hart_registers`` gives those registers.
"""

from __future__ import annotations

import json
import subprocess
import sys

from rr.monitor.cpu import Cpu
from rr.replay.machine_state import hart_registers, load_hart_registers

from replay_helpers import REPO

PROBE = """
import hashlib, json
from rr.monitor.cpu import Cpu
from rr.replay.machine_state import hart_registers
cpu = Cpu()
for n in range(1, 32):
    cpu.set_x(n, n * 0x0101_0101)
cpu.pc = 0x8020_0000
whole = bytes(cpu.uc.context_save())
data = hart_registers(cpu)
print(json.dumps({"whole": hashlib.sha256(whole).hexdigest(), "data": data.hex()}))
"""


def probe() -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return json.loads(out)


def test_register_data_is_the_same_in_every_process_and_the_header_is_not():
    first, second = probe(), probe()
    assert first["data"] == second["data"]
    assert first["whole"] != second["whole"]      # the header's pointers moved


def test_registers_from_another_process_are_put_back():
    data = bytes.fromhex(probe()["data"])
    cpu = Cpu()
    load_hart_registers(cpu, data)
    assert cpu.pc == 0x8020_0000
    assert [cpu.x(n) for n in range(1, 32)] == [n * 0x0101_0101 for n in range(1, 32)]
    assert hart_registers(cpu) == data
