"""CSR access from the monitor, whatever state the hart is in.

The interrupt CSRs the scheduler asks about at every switch are also read
from a context snapshot (rr/monitor/context_csrs.py): the same values.

Unicorn refuses the floating-point CSRs while mstatus.FS is Off, which is
how a kernel runs most of the time: a read returned whatever its buffer
held (so state hashes differed between processes) and a write was lost.
"""

from __future__ import annotations

import random

from rr.monitor.constants import (MIDELEG_S_INTERRUPTS, MIP_STIP, MSTATUS_FS, PRIV_S, RAM_BASE,
                                  SSTATUS_SIE)
from rr.monitor.cpu import Cpu

SUPERVISOR_TIMER_INTERRUPT = (1 << 63) | 5


def _cpu_with_fpu_off() -> Cpu:
    cpu = Cpu()
    cpu.priv = PRIV_S
    cpu.set_csr("mstatus", cpu.csr("mstatus") & ~MSTATUS_FS)
    return cpu


def test_fp_csrs_written_and_read_with_the_fpu_off():
    cpu = _cpu_with_fpu_off()
    mstatus = cpu.csr("mstatus")
    cpu.set_csr("fcsr", 0x41)
    assert cpu.csr("fcsr") == 0x41
    assert cpu.csr("frm") == 0x2 and cpu.csr("fflags") == 0x1
    assert cpu.csr("mstatus") == mstatus            # FS is still Off
    assert cpu.priv == PRIV_S


def test_a_value_written_with_the_fpu_off_is_there_when_it_is_on():
    cpu = _cpu_with_fpu_off()
    cpu.set_csr("fcsr", 0x25)
    cpu.set_csr("mstatus", cpu.csr("mstatus") | MSTATUS_FS)
    assert cpu.csr("fcsr") == 0x25


def test_fp_csr_reads_agree_between_engines():
    """The state hash reads fcsr: two fresh harts must give the same answer."""
    assert _cpu_with_fpu_off().csr("fcsr") == _cpu_with_fpu_off().csr("fcsr") == 0


# lr.d a4, (a5); sc.d a2, a3, (a5); j .
LR_SC = bytes.fromhex("2fb70710" "2fb6d718" "6f000000")


def _held_reservation() -> Cpu:
    """A hart in S-mode between an lr and its sc."""
    cpu = Cpu()
    cpu.uc.mem_map(RAM_BASE, 0x1000)
    cpu.uc.mem_write(RAM_BASE, LR_SC)
    cpu.set_x(15, RAM_BASE + 0x800)          # a5: the reserved doubleword
    cpu.set_x(13, 0x5A5A)                    # a3: the value to store
    cpu.pc = RAM_BASE
    cpu.priv = PRIV_S
    cpu.run(1)                               # the lr
    return cpu


def _store_conditional(cpu: Cpu) -> int:
    cpu.run(1)
    return cpu.x(12)                         # a2: 0 when the store happened


def test_monitor_csr_accesses_keep_the_guests_reservation():
    """Reading registers between a guest's lr and sc (a debugger stop, a state hash)
    must not make the sc fail: the replay would take another path than the recording."""
    cpu = _held_reservation()
    cpu.csr("mstatus")
    cpu.set_csr("mip", cpu.csr("mip"))
    cpu.csr("fcsr")
    assert _store_conditional(cpu) == 0
    assert int.from_bytes(bytes(cpu.uc.mem_read(RAM_BASE + 0x800, 8)), "little") == 0x5A5A


def test_a_privilege_change_still_clears_the_reservation():
    cpu = _held_reservation()
    cpu.priv = PRIV_S                        # what a trap to S-mode does, architecturally
    assert _store_conditional(cpu) == 1


def test_a_restored_pending_interrupt_is_taken_when_enabled():
    """QEMU's "interrupt requested" flag lives outside the saved context: restoring a
    state with STIP pending over one without must still deliver it once enabled."""
    cpu = Cpu()
    cpu.uc.mem_map(RAM_BASE, 0x1000)
    # loop: addi t0, t0, 1; j loop.  stvec: the same two instructions at +0x100.
    for at in (0, 0x100):
        cpu.uc.mem_write(RAM_BASE + at, bytes.fromhex("93821200" "6ff0dfff"))
    cpu.pc = RAM_BASE
    cpu.set_csr("stvec", RAM_BASE + 0x100)
    cpu.set_csr("mideleg", MIP_STIP)
    cpu.set_csr("mie", MIP_STIP)
    cpu.priv = PRIV_S
    cpu.set_csr("mip", MIP_STIP)              # pending, but sstatus.SIE is off
    cpu.run(4)
    pending = cpu.uc.context_save()
    cpu.set_csr("mip", 0)                     # later: no longer pending
    cpu.run(4)
    cpu.restore_context(pending)
    cpu.set_csr("sstatus", cpu.csr("sstatus") | SSTATUS_SIE)
    cpu.run(4)
    assert cpu.csr("scause") == SUPERVISOR_TIMER_INTERRUPT
    assert RAM_BASE + 0x100 <= cpu.pc < RAM_BASE + 0x108


def test_interrupt_bits_from_the_context_agree_with_the_api():
    """The scheduler reads mip and mip & sie from a context snapshot (context_csrs.py):
    on random values, in S-mode and while a reservation is held, they are the API's."""
    rng = random.Random(20261203)
    for cpu in (Cpu(), _held_reservation()):
        cpu.priv = PRIV_S
        for _ in range(200):
            cpu.set_csr("mideleg", rng.choice((MIDELEG_S_INTERRUPTS, 0, rng.getrandbits(12))))
            cpu.set_csr("mie", rng.getrandbits(12))
            cpu.set_csr("mip", rng.getrandbits(12))
            assert cpu.mip() == cpu.csr("mip")
            assert cpu.pending_interrupts() == cpu.csr("mip") & cpu.csr("sie")
            assert cpu.priv == PRIV_S


def test_context_reads_keep_the_guests_reservation():
    cpu = _held_reservation()
    cpu.mip()
    cpu.pending_interrupts()
    assert _store_conditional(cpu) == 0
