"""One-line disassembly for diagnostics, with capstone.

capstone is imported on the first use: a run that never reports a faulting
instruction does not pay for loading it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _engine() -> Any:
    import capstone
    return capstone.Cs(capstone.CS_ARCH_RISCV,
                       capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)


def disassemble_one(code: bytes, address: int) -> str:
    """'mnemonic operands' of the first instruction in ``code``, or its bytes if undecodable."""
    for insn in _engine().disasm(code, address, 1):
        return f"{insn.mnemonic} {insn.op_str}".strip()
    return "<undecodable: " + (code[:4].hex() or "no bytes") + ">"
