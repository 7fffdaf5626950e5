"""A digest of everything the guest can observe: registers, CSRs, RAM, devices, clocks.

Two runs are the same run when their digests match at the same instruction
count. Determinism tests compare it; a recording stores it in the trace's
footer, and a replay compares its own with that one at the end.
"""

from __future__ import annotations

import hashlib

import msgpack

from rr.monitor.board import Board
from rr.monitor.ram import BLOCK
DIGEST_CSRS = ("sstatus", "sie", "stvec", "sscratch", "sepc", "scause", "stval", "sip",
               "satp", "mip", "mie", "fcsr")


def register_state(board: Board) -> dict:
    """The current hart's registers; with several harts, every hart's in a list."""
    if len(board.harts) > 1:
        return {"harts": [cpu_registers(hart.cpu) for hart in board.harts]}
    return cpu_registers(board.cpu)


def cpu_registers(cpu) -> dict:
    return {
        "pc": cpu.pc, "priv": cpu.priv,
        "x": [cpu.x(n) for n in range(32)], "f": [cpu.f(n) for n in range(32)],
        "csr": {name: cpu.csr(name) for name in DIGEST_CSRS},
    }


def state_digest(board: Board) -> str:
    """sha256 (hex) over icount, registers, device state and RAM (its non-zero 1 MiB blocks)."""
    h = hashlib.sha256()
    h.update(msgpack.packb({"icount": board.cpu.icount, "regs": register_state(board),
                            "devices": board.get_state()}))
    ram = board.ram
    view = memoryview(ram.map)
    for block in ram.nonzero_blocks():       # all-zero blocks are implied by their absence
        h.update(block.to_bytes(8, "little"))
        h.update(view[block:block + BLOCK])
    return h.hexdigest()
