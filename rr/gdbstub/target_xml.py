"""The riscv64 target description gdb reads through qXfer:features:read.

Without it gdb-multiarch assumes x86-64 and rejects our `g` reply, so it is
served at every connection. All four features (cpu, fpu, virtual, csr) are
inlined in one target.xml, generated from the register table so numbers and
sizes always match what the register packets carry.
"""

from __future__ import annotations

from functools import lru_cache

from rr.gdbstub.registers import (FEATURE_CPU, FEATURE_CSR, FEATURE_FPU, FEATURE_VIRTUAL,
                                  Register, register_table)

ANNEX = "target.xml"
ARCHITECTURE = "riscv:rv64"
_FEATURES = (FEATURE_CPU, FEATURE_FPU, FEATURE_VIRTUAL, FEATURE_CSR)
# The fpu feature's registers hold a single or a double (QEMU's riscv_double).
_FPU_TYPES = ('  <union id="riscv_double">\n'
              '    <field name="float" type="ieee_single"/>\n'
              '    <field name="double" type="ieee_double"/>\n'
              '  </union>\n')


@lru_cache(maxsize=2)
def target_xml(sstc: bool = False) -> bytes:
    """The description of a board's harts (``sstc``: one that offers Sstc, with stimecmp)."""
    lines = ['<?xml version="1.0"?>',
             '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
             '<target version="1.0">',
             f'<architecture>{ARCHITECTURE}</architecture>']
    for feature in _FEATURES:
        lines.append(f'<feature name="{feature}">')
        if feature == FEATURE_FPU:
            lines.append(_FPU_TYPES.rstrip("\n"))
        for reg in register_table(sstc).registers:
            if reg.feature == feature:
                lines.append(_reg_element(reg))
        lines.append('</feature>')
    lines.append('</target>')
    return ("\n".join(lines) + "\n").encode()


def _reg_element(reg: Register) -> str:
    """One <reg>; ``generic`` and ``dwarf_regnum`` are lldb's (gdb ignores them: G18)."""
    extra = ' group="csr"' if reg.feature == FEATURE_CSR else ""
    if reg.generic is not None:
        extra += f' generic="{reg.generic}"'
    if reg.dwarf is not None:
        extra += f' dwarf_regnum="{reg.dwarf}"'
    return (f'  <reg name="{reg.name}" bitsize="{reg.bitsize}" type="{reg.type}" '
            f'regnum="{reg.regnum}"{extra}/>')


def read_annex(annex: str, offset: int, length: int, sstc: bool = False) -> bytes | None:
    """qXfer reply body ('m' + data when more follows, 'l' + data for the last piece), unescaped."""
    if annex != ANNEX:
        return None
    document = target_xml(sstc)
    piece = document[offset:offset + length]
    more = offset + length < len(document)
    return (b"m" if more else b"l") + piece
