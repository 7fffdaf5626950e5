"""The registers gdb sees, numbered as QEMU's riscv64 stub numbers them.

One table drives both the target description (target_xml.py) and the
register packets (server.py), so a register cannot be described under one
number and read under another. Numbering (docs/gdb-protocol.md, G6): x0..x31 = 0..31,
pc = 32, f0..f31 = 33..64, priv = 65, CSR number n = 66 + n.

Every register described can be read (docs/gdb-protocol.md, G20). A CSR the
hart does not have (stimecmp without Sstc), or whose value no debugger can show
as the guest saw it (cycle and instret return the host's CPU ticks), is left
out of the description. A board that offers Sstc (``--sstc``) has ``stimecmp``:
its hart's timer comparator, which the monitor emulates (rr/monitor/stimecmp.py),
so ``register_table`` gives the table for a board. `time` is what `rdtime`
returns at this instruction; under `--clock host` that is a logged input the
debugger cannot read ahead of the guest, so it is unavailable there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rr.monitor.board import Board
from rr.monitor.constants import (CSR_FCSR, CSR_FFLAGS, CSR_FRM, CSR_MEDELEG, CSR_MIDELEG,
                                  CSR_MIE, CSR_MIP, CSR_MISA, CSR_MSTATUS, CSR_SCOUNTEREN,
                                  CSR_STIMECMP, CSR_TIME, FP_ALIAS, FPR_NAMES, GPR_NAMES, REG_FP,
                                  SUPERVISOR_CSRS)

FEATURE_CPU = "org.gnu.gdb.riscv.cpu"
FEATURE_FPU = "org.gnu.gdb.riscv.fpu"
FEATURE_VIRTUAL = "org.gnu.gdb.riscv.virtual"
FEATURE_CSR = "org.gnu.gdb.riscv.csr"

PC_REGNUM = 32
FIRST_FPR_REGNUM = 33
PRIV_REGNUM = 65
FIRST_CSR_REGNUM = 66
G_PACKET_REGISTERS = 33          # `g` carries x0..x31 and pc; gdb fetches the rest with `p`

# DWARF numbers (RISC-V ELF psABI): x0..x31 are 0..31, f0..f31 32..63, CSR n is 4096 + n.
FIRST_FPR_DWARF = 32
FIRST_CSR_DWARF = 4096

# gdb's riscv cpu feature (and QEMU's description of it) calls x8 fp, not s0.
XREG_NAMES = tuple(FP_ALIAS if n == REG_FP else name for n, name in enumerate(GPR_NAMES))
# The S-mode CSRs every debugger shows, and for gdb scounteren too (which counters
# U-mode may read), after stvec as the privileged spec numbers them.
GDB_SUPERVISOR_CSRS = (*SUPERVISOR_CSRS[:3], ("scounteren", CSR_SCOUNTEREN), *SUPERVISOR_CSRS[3:])
_POINTER_TYPES = {"ra": "code_ptr", "sp": "data_ptr", "gp": "data_ptr", "tp": "data_ptr",
                  "fp": "data_ptr"}
# lldb finds the pc, stack and frame pointers, return address and arguments by these
# roles, not by name (docs/gdb-protocol.md, G18).
GENERIC_ROLES = {"sp": "sp", "fp": "fp", "ra": "ra",
                 **{f"a{n}": f"arg{n + 1}" for n in range(8)}}

# The machine-mode CSRs that shape what the guest sees: the status bits behind sstatus, the
# ISA, which traps and interrupts reach S-mode, and which interrupts are enabled and pending.
# The trap CSRs (mepc, mcause, mtval, mscratch, mtvec) are left out: the monitor takes
# machine-mode traps in Python, so the hart's copies hold nothing of the guest's.
MACHINE_CSRS = (("mstatus", CSR_MSTATUS), ("misa", CSR_MISA), ("medeleg", CSR_MEDELEG),
                ("mideleg", CSR_MIDELEG), ("mie", CSR_MIE), ("mip", CSR_MIP))
FPU_CSRS = (("fflags", CSR_FFLAGS), ("frm", CSR_FRM), ("fcsr", CSR_FCSR))

Read = Callable[[Board], "int | None"]
Write = Callable[[Board, int], None]


@dataclass(frozen=True)
class Register:
    name: str
    regnum: int                  # the number in p/P packets and in target.xml
    bitsize: int
    type: str                    # a target-description type name
    feature: str
    read: Read                   # gives None when it cannot say now (gdb: <unavailable>)
    write: Write | None          # None: not a register anyone can change (the clock)
    dwarf: int | None = None     # the DWARF register number (lldb maps CFI and locations by it)
    generic: str | None = None   # lldb's role name: pc, sp, fp, ra, arg1..arg8

    @property
    def size(self) -> int:
        return self.bitsize // 8


def _x(n: int) -> tuple[Read, Write]:
    # x0 is hard-wired to zero: writing it changes nothing, as on the hart.
    return ((lambda board: board.cpu.x(n)),
            (lambda board, value: board.cpu.set_x(n, value) if n else None))


def _f(n: int) -> tuple[Read, Write]:
    return (lambda board: board.cpu.f(n)), (lambda board, value: board.cpu.set_f(n, value))


def _csr(name: str) -> tuple[Read, Write]:
    return ((lambda board: board.cpu.csr(name)),
            (lambda board, value: board.cpu.set_csr(name, value)))


def _set_pc(board: Board, value: int) -> None:
    board.cpu.pc = value


def _set_priv(board: Board, value: int) -> None:
    board.cpu.priv = value


def _time(board: Board) -> int | None:
    """What `rdtime` returns here. Only the virtual clock can say without an input: the host
    clock's readings are logged inputs, consumed where the guest read them."""
    if not board.clock.instruction_driven:
        return None
    return board.clock.now(board.cpu.icount)


def _stimecmp(board: Board) -> int:
    """The comparator of the hart's timer: what its stimecmp reads."""
    return board.hart.timer.compare


def _set_stimecmp(board: Board, value: int) -> None:
    """What a write of stimecmp does (SBI set_timer too): a new deadline."""
    board.hart.timer.program(value, board.position)


def _csrs(names: tuple[tuple[str, int], ...], bitsize: int, type_: str,
          feature: str) -> list[Register]:
    return [Register(name, FIRST_CSR_REGNUM + number, bitsize, type_, feature, *_csr(name),
                     dwarf=FIRST_CSR_DWARF + number)
            for name, number in names]


def _build(sstc: bool) -> tuple[Register, ...]:
    regs = [Register(name, n, 64, _POINTER_TYPES.get(name, "int"), FEATURE_CPU, *_x(n),
                     dwarf=n, generic=GENERIC_ROLES.get(name))
            for n, name in enumerate(XREG_NAMES)]
    regs.append(Register("pc", PC_REGNUM, 64, "code_ptr", FEATURE_CPU,
                         lambda board: board.cpu.pc, _set_pc, generic="pc"))
    regs += [Register(name, FIRST_FPR_REGNUM + n, 64, "riscv_double", FEATURE_FPU, *_f(n),
                      dwarf=FIRST_FPR_DWARF + n)
             for n, name in enumerate(FPR_NAMES)]
    regs += _csrs(FPU_CSRS, 32, "int", FEATURE_FPU)
    # priv: the privilege mode, with the virtualisation bit (bit 2) clear: no H extension.
    regs.append(Register("priv", PRIV_REGNUM, 64, "int", FEATURE_VIRTUAL,
                         lambda board: board.cpu.priv, _set_priv))
    regs += _csrs(GDB_SUPERVISOR_CSRS, 64, "uint64", FEATURE_CSR)
    regs += _csrs(MACHINE_CSRS, 64, "uint64", FEATURE_CSR)
    regs.append(Register("time", FIRST_CSR_REGNUM + CSR_TIME, 64, "uint64", FEATURE_CSR, _time,
                         None, dwarf=FIRST_CSR_DWARF + CSR_TIME))
    if sstc:
        regs.append(Register("stimecmp", FIRST_CSR_REGNUM + CSR_STIMECMP, 64, "uint64",
                             FEATURE_CSR, _stimecmp, _set_stimecmp,
                             dwarf=FIRST_CSR_DWARF + CSR_STIMECMP))
    return tuple(regs)


@dataclass(frozen=True)
class RegisterTable:
    """The registers of one kind of board, in description order, and by number."""

    registers: tuple[Register, ...]
    by_number: dict[int, Register]
    sstc: bool


def _table(sstc: bool) -> RegisterTable:
    registers = _build(sstc)
    return RegisterTable(registers, {reg.regnum: reg for reg in registers}, sstc)


_TABLES = {sstc: _table(sstc) for sstc in (False, True)}


def register_table(sstc: bool) -> RegisterTable:
    """The registers of a board that offers Sstc (``sstc``: stimecmp too) or not."""
    return _TABLES[sstc]
