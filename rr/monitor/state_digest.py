"""A digest of everything the guest can observe: registers, CSRs, RAM, devices, clocks.

Two runs are the same run when their digests match at the same instruction
count. Determinism tests and (later) trace footers and replay verification
compare it.
"""

from __future__ import annotations

import hashlib

import msgpack

from rr.monitor.board import Board
from rr.monitor.constants import RAM_BASE

DIGEST_CSRS = ("sstatus", "sie", "stvec", "sscratch", "sepc", "scause", "stval", "sip",
               "satp", "mip", "mie", "fcsr")
RAM_CHUNK = 16 * 1024 * 1024


def register_state(board: Board) -> dict:
    cpu = board.cpu
    return {
        "pc": cpu.pc, "priv": cpu.priv,
        "x": [cpu.x(n) for n in range(32)], "f": [cpu.f(n) for n in range(32)],
        "csr": {name: cpu.csr(name) for name in DIGEST_CSRS},
    }


def device_state(board: Board) -> dict:
    return {
        "devices": [device.get_state() for device in board.bus.devices],
        "clock": board.clock.get_state(), "timer": board.timer.get_state(),
        "lines": board.lines.get_state(), "console_backlog": bytes(board.console_backlog),
    }


def state_digest(board: Board) -> str:
    """sha256 (hex) over icount, registers, device state and all of RAM."""
    h = hashlib.sha256()
    h.update(msgpack.packb({"icount": board.cpu.icount, "regs": register_state(board),
                            "devices": device_state(board)}))
    size = board.config.ram_size
    for offset in range(0, size, RAM_CHUNK):
        h.update(board.cpu.read_phys(RAM_BASE + offset, min(RAM_CHUNK, size - offset)))
    return h.hexdigest()
