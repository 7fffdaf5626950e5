"""The registers gdb sees, numbered as QEMU's riscv64 stub numbers them.

One table drives both the target description (target_xml.py) and the
register packets (server.py), so a register cannot be described under one
number and read under another. Numbering (docs/gdb-protocol.md, G6): x0..x31 = 0..31,
pc = 32, f0..f31 = 33..64, priv = 65, CSR number n = 66 + n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rr.monitor.constants import (CSR_FCSR, CSR_FFLAGS, CSR_FRM, CSR_SATP, CSR_SCAUSE, CSR_SEPC,
                                  CSR_SIE, CSR_SIP, CSR_SSCRATCH, CSR_SSTATUS, CSR_STVAL,
                                  CSR_STVEC)
from rr.monitor.cpu import Cpu

FEATURE_CPU = "org.gnu.gdb.riscv.cpu"
FEATURE_FPU = "org.gnu.gdb.riscv.fpu"
FEATURE_VIRTUAL = "org.gnu.gdb.riscv.virtual"
FEATURE_CSR = "org.gnu.gdb.riscv.csr"

PC_REGNUM = 32
FIRST_FPR_REGNUM = 33
PRIV_REGNUM = 65
FIRST_CSR_REGNUM = 66
G_PACKET_REGISTERS = 33          # `g` carries x0..x31 and pc; gdb fetches the rest with `p`

XREG_NAMES = ("zero ra sp gp tp t0 t1 t2 fp s1 a0 a1 a2 a3 a4 a5 a6 a7 "
              "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()
FREG_NAMES = ("ft0 ft1 ft2 ft3 ft4 ft5 ft6 ft7 fs0 fs1 fa0 fa1 fa2 fa3 fa4 fa5 fa6 fa7 "
              "fs2 fs3 fs4 fs5 fs6 fs7 fs8 fs9 fs10 fs11 ft8 ft9 ft10 ft11").split()
_POINTER_TYPES = {"ra": "code_ptr", "sp": "data_ptr", "gp": "data_ptr", "tp": "data_ptr",
                  "fp": "data_ptr"}

# The CSRs a kernel developer reads, by name (as rr.monitor.cpu knows them) and number.
SUPERVISOR_CSRS = (("sstatus", CSR_SSTATUS), ("sie", CSR_SIE), ("stvec", CSR_STVEC),
                   ("sscratch", CSR_SSCRATCH), ("sepc", CSR_SEPC), ("scause", CSR_SCAUSE),
                   ("stval", CSR_STVAL), ("sip", CSR_SIP), ("satp", CSR_SATP))
FPU_CSRS = (("fflags", CSR_FFLAGS), ("frm", CSR_FRM), ("fcsr", CSR_FCSR))


@dataclass(frozen=True)
class Register:
    name: str
    regnum: int                  # the number in p/P packets and in target.xml
    bitsize: int
    type: str                    # a target-description type name
    feature: str
    read: Callable[[Cpu], int]
    write: Callable[[Cpu, int], None]

    @property
    def size(self) -> int:
        return self.bitsize // 8


Access = tuple[Callable[[Cpu], int], Callable[[Cpu, int], None]]


def _x(n: int) -> Access:
    # x0 is hard-wired to zero: writing it changes nothing, as on the hart.
    return (lambda cpu: cpu.x(n)), (lambda cpu, value: cpu.set_x(n, value) if n else None)


def _f(n: int) -> Access:
    return (lambda cpu: cpu.f(n)), (lambda cpu, value: cpu.set_f(n, value))


def _csr(name: str) -> Access:
    return (lambda cpu: cpu.csr(name)), (lambda cpu, value: cpu.set_csr(name, value))


def _set_pc(cpu: Cpu, value: int) -> None:
    cpu.pc = value


def _set_priv(cpu: Cpu, value: int) -> None:
    cpu.priv = value


def _build() -> tuple[Register, ...]:
    regs = [Register(name, n, 64, _POINTER_TYPES.get(name, "int"), FEATURE_CPU, *_x(n))
            for n, name in enumerate(XREG_NAMES)]
    regs.append(Register("pc", PC_REGNUM, 64, "code_ptr", FEATURE_CPU, lambda cpu: cpu.pc,
                         _set_pc))
    regs += [Register(name, FIRST_FPR_REGNUM + n, 64, "riscv_double", FEATURE_FPU, *_f(n))
             for n, name in enumerate(FREG_NAMES)]
    regs += [Register(name, FIRST_CSR_REGNUM + number, 32, "int", FEATURE_FPU, *_csr(name))
             for name, number in FPU_CSRS]
    # priv: the privilege mode, with the virtualisation bit (bit 2) clear: no H extension.
    regs.append(Register("priv", PRIV_REGNUM, 64, "int", FEATURE_VIRTUAL, lambda cpu: cpu.priv,
                         _set_priv))
    regs += [Register(name, FIRST_CSR_REGNUM + number, 64, "uint64", FEATURE_CSR, *_csr(name))
             for name, number in SUPERVISOR_CSRS]
    return tuple(regs)


REGISTERS: tuple[Register, ...] = _build()
BY_NUMBER: dict[int, Register] = {reg.regnum: reg for reg in REGISTERS}
