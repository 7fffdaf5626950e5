"""What RISC-V words mean, for the monitor and the debuggers: cause and privilege
names, instruction fields and lengths, and the one capstone disassembler.

The tables themselves are in rr.monitor.constants; this module is the code
that reads them, so the monitor's fault messages, the REPL and the gdb stub
name a trap, a mode or an instruction the same way.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rr.monitor.constants import CAUSE_INTERRUPT, CAUSE_NAMES, INTERRUPT_NAMES, PRIV_MODE_NAMES, \
    PRIV_NAMES


def field(value: int, hi: int, lo: int) -> int:
    """Field value[hi:lo], inclusive, as in the ISA manual's tables."""
    return (value >> lo) & ((1 << (hi - lo + 1)) - 1)


def sign_extend(value: int, width: int) -> int:
    """Sign-extend a ``width``-bit field to a Python int."""
    sign = 1 << (width - 1)
    return (value & (sign - 1)) - (value & sign)


def insn_length(first_halfword: int) -> int:
    """Length in bytes of the instruction starting with ``first_halfword``.

    Only the 16- and 32-bit encodings exist on this CPU; anything whose low two
    bits are 0b11 is treated as 32-bit.
    """
    return 4 if (first_halfword & 0b11) == 0b11 else 2


def cause_name(scause: int) -> str:
    """'load page fault', 'supervisor timer interrupt' (scause with its interrupt bit)."""
    code = scause & ~CAUSE_INTERRUPT
    if scause & CAUSE_INTERRUPT:
        return INTERRUPT_NAMES.get(code, f"interrupt {code}")
    return CAUSE_NAMES.get(code, f"exception {code}")


def priv_name(priv: int) -> str:
    """'S' for supervisor mode; the number itself for a mode that does not exist."""
    return PRIV_NAMES.get(priv, str(priv))


def priv_long_name(priv: int) -> str:
    """'S (supervisor)'."""
    if priv not in PRIV_NAMES:
        return str(priv)
    return f"{PRIV_NAMES[priv]} ({PRIV_MODE_NAMES[priv]})"


@lru_cache(maxsize=1)
def disassembler() -> Any:
    """Capstone for RV64GC, made once. capstone is imported on the first use: a run that
    never reports a faulting instruction does not pay for loading it."""
    import capstone
    return capstone.Cs(capstone.CS_ARCH_RISCV,
                       capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)


def disassemble_one(code: bytes, address: int) -> str:
    """'mnemonic operands' of the first instruction in ``code``, or its bytes if undecodable."""
    for insn in disassembler().disasm(code, address, 1):
        return f"{insn.mnemonic} {insn.op_str}".strip()
    return "<undecodable: " + (code[:4].hex() or "no bytes") + ">"
