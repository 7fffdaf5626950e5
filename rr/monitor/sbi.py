"""The Supervisor Binary Interface (SBI v1.0) the monitor offers its S-mode guest.

An ``ecall`` from S-mode arrives at the trap hook; ``Sbi.handle`` reads the
extension (a7) and function (a6) ids and the arguments, does the work and
writes ``a0`` (error) and ``a1`` (value). The monitor plays the part OpenSBI
plays on QEMU virt. Each hart has its own ``Sbi``; what one hart does to
another (an IPI, a remote fence, HSM start) goes through ``HartControl``,
which a one-hart board does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from rr import __version__
from rr.monitor import mmu
from rr.monitor.cpu import Cpu
from rr.monitor.exits import ExitKind, GuestExit

# Extension ids
EXT_BASE = 0x10
EXT_TIME = 0x54494D45
EXT_IPI = 0x735049
EXT_RFENCE = 0x52464E43
EXT_HSM = 0x48534D
EXT_SRST = 0x53525354
EXT_DBCN = 0x4442434E
LEGACY_SET_TIMER = 0x00
LEGACY_PUTCHAR = 0x01
LEGACY_GETCHAR = 0x02
LEGACY_CLEAR_IPI = 0x03
LEGACY_SEND_IPI = 0x04
LEGACY_REMOTE_FENCE_I = 0x05
LEGACY_REMOTE_SFENCE_VMA = 0x06
LEGACY_REMOTE_SFENCE_VMA_ASID = 0x07
LEGACY_SHUTDOWN = 0x08
LEGACY_EXTENSIONS = range(LEGACY_SET_TIMER, LEGACY_SHUTDOWN + 1)

# Error codes
SBI_SUCCESS = 0
SBI_ERR_FAILED = -1
SBI_ERR_NOT_SUPPORTED = -2
SBI_ERR_INVALID_PARAM = -3
SBI_ERR_ALREADY_AVAILABLE = -6

SPEC_VERSION = (1 << 24) | 0          # v1.0
# Implementation id: not one of the registered ids (0-9); reads as "rr".
IMPL_ID = 0x7272
IMPL_VERSION = int("".join(f"{int(p):02d}" for p in __version__.split(".")[:3]), 16)

# Most bytes one DBCN console_write or console_read moves (the call returns the
# count, and a guest writes the rest with another call, as the SBI allows).
SBI_DBCN_MAX_BYTES = 4096

SRST_SHUTDOWN = 0
SRST_COLD_REBOOT = 1
SRST_WARM_REBOOT = 2
SRST_REASON_FAILURE = 1

HSM_STARTED = 0
HSM_SUSPEND_RETENTIVE = 0
HSM_SUSPEND_NON_RETENTIVE = 0x8000_0000
HART_ID = 0
XLEN_MASK = 0xFFFF_FFFF_FFFF_FFFF

SUPPORTED_EXTENSIONS = frozenset({
    EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST, EXT_DBCN,
    *LEGACY_EXTENSIONS,
})


class HartControl(Protocol):
    """What one hart's SBI may do to the others (and to itself through HSM)."""

    count: int

    def interruptible(self, hart: int) -> bool: ...

    def send_ipi(self, hart: int) -> None: ...
    def remote_fence(self, hart: int, fence_i: bool) -> None: ...
    def start(self, hart: int, address: int, opaque: int) -> int: ...
    def stop(self, hart: int) -> int: ...
    def status(self, hart: int) -> tuple[int, int]: ...
    def suspend(self, hart: int, kind: int, address: int, opaque: int) -> int: ...


@dataclass
class SbiPorts:
    """What the SBI needs from the board."""

    console_write: Callable[[bytes], None]
    console_read: Callable[[int], bytes]         # up to n bytes from the UART's receive FIFO
    set_timer: Callable[[int], None]
    send_self_ipi: Callable[[], None]
    clear_self_ipi: Callable[[], None]
    flush_tlb: Callable[[], None]
    request_exit: Callable[[GuestExit], None]
    suspend: Callable[[], None]                  # behave like wfi (HSM retentive suspend)
    load: Callable[[int, int, int], bytes]       # (vaddr, size, priv): a load as the hart
                                                 # makes it; raises mmu.PageFault
    hart_id: int = HART_ID
    harts: HartControl | None = None             # None: this is the board's only hart


class SbiTrap(Exception):
    """The call faults instead of returning: the trap goes to the caller's S-mode
    handler at the ecall (OpenSBI redirects a fault taken while reading an argument)."""

    def __init__(self, cause: int, tval: int) -> None:
        super().__init__(f"SBI call faulted: cause {cause}, tval {tval:#x}")
        self.cause = cause
        self.tval = tval


def _signed(value: int) -> int:
    return value & XLEN_MASK


class Sbi:
    """Dispatch of SBI calls; one method per extension."""

    def __init__(self, cpu: Cpu, ports: SbiPorts) -> None:
        self.cpu = cpu
        self.ports = ports
        self._handlers: dict[int, Callable[[int], tuple[int, int] | None]] = {
            EXT_BASE: self._base, EXT_TIME: self._time, EXT_IPI: self._ipi,
            EXT_RFENCE: self._rfence, EXT_HSM: self._hsm, EXT_SRST: self._srst,
            EXT_DBCN: self._dbcn,
        }

    def handle(self) -> None:
        """Serve the ecall whose registers are in the hart now."""
        eid = self.cpu.x(17)
        fid = self.cpu.x(16)
        if eid in LEGACY_EXTENSIONS:
            self._legacy(eid)
            return
        handler = self._handlers.get(eid)
        result = handler(fid) if handler else (SBI_ERR_NOT_SUPPORTED, 0)
        if result is not None:
            error, value = result
            self.cpu.set_x(10, _signed(error))
            self.cpu.set_x(11, _signed(value))

    def _arg(self, n: int) -> int:
        return self.cpu.x(10 + n)

    # --- extensions ---------------------------------------------------------
    def _base(self, fid: int) -> tuple[int, int]:
        if fid == 3:
            return SBI_SUCCESS, int(self._arg(0) in SUPPORTED_EXTENSIONS)
        values = {0: SPEC_VERSION, 1: IMPL_ID, 2: IMPL_VERSION, 4: 0, 5: 0, 6: 0}
        if fid in values:
            return SBI_SUCCESS, values[fid]
        return SBI_ERR_NOT_SUPPORTED, 0

    def _time(self, fid: int) -> tuple[int, int]:
        if fid != 0:
            return SBI_ERR_NOT_SUPPORTED, 0
        self.ports.set_timer(self._arg(0))
        return SBI_SUCCESS, 0

    def _targets(self, mask: int, base: int) -> list[int]:
        """The harts a (hart_mask, hart_mask_base) pair names that can take an IPI
        (started or suspended, as OpenSBI sends to); ids past the last hart and stopped
        harts are passed over."""
        harts = self.ports.harts
        count = harts.count if harts is not None else 1
        if base == XLEN_MASK:           # hart_mask_base = -1: all harts
            named = range(count)
        else:
            named = [hart for hart in range(count) if base <= hart and (mask >> (hart - base)) & 1]
        return [hart for hart in named
                if hart == self.ports.hart_id or harts is None or harts.interruptible(hart)]

    def _legacy_targets(self) -> list[int]:
        """The harts a v0.1 call names: a0 points to an unsigned long hart mask in the
        caller's address space (bit h is hart h), NULL naming every hart. The mask is
        loaded as OpenSBI loads it (MPRV, with S-mode's translation and permissions); a
        fault goes back to the caller as that fault, at the ecall."""
        pointer = self._arg(0)
        if pointer == 0:
            return self._targets(0, XLEN_MASK)
        try:
            mask = int.from_bytes(self.ports.load(pointer, 8, self.cpu.priv), "little")
        except mmu.PageFault as fault:
            raise SbiTrap(fault.cause, fault.vaddr) from None
        return self._targets(mask, 0)

    def _send_ipis(self, targets: list[int]) -> None:
        for hart in targets:
            if hart == self.ports.hart_id:
                self.ports.send_self_ipi()
            else:
                self.ports.harts.send_ipi(hart)

    def _fence(self, targets: list[int], fence_i: bool) -> None:
        for hart in targets:
            if hart != self.ports.hart_id:
                self.ports.harts.remote_fence(hart, fence_i=fence_i)
            elif not fence_i:           # the calling hart's own fence.i is the guest's
                self.ports.flush_tlb()

    def _ipi(self, fid: int) -> tuple[int, int]:
        if fid != 0:
            return SBI_ERR_NOT_SUPPORTED, 0
        self._send_ipis(self._targets(self._arg(0), self._arg(1)))
        return SBI_SUCCESS, 0

    def _rfence(self, fid: int) -> tuple[int, int]:
        if fid not in (0, 1, 2):        # fence.i, sfence.vma, sfence.vma.asid
            return SBI_ERR_NOT_SUPPORTED, 0   # hypervisor fences: no H extension
        self._fence(self._targets(self._arg(0), self._arg(1)), fence_i=fid == 0)
        return SBI_SUCCESS, 0

    def _hsm(self, fid: int) -> tuple[int, int] | None:
        if self.ports.harts is not None:
            return self._hsm_smp(fid)
        hart = self._arg(0)
        if fid == 0:            # hart_start
            return (SBI_ERR_ALREADY_AVAILABLE if hart == HART_ID else SBI_ERR_INVALID_PARAM), 0
        if fid == 1:            # hart_stop: the only hart cannot stop
            return SBI_ERR_FAILED, 0
        if fid == 2:            # hart_get_status
            return (SBI_SUCCESS, HSM_STARTED) if hart == HART_ID else (SBI_ERR_INVALID_PARAM, 0)
        if fid == 3:            # hart_suspend: only the retentive default type
            if self._arg(0) != 0:
                return SBI_ERR_NOT_SUPPORTED, 0
            self.ports.suspend()
            return SBI_SUCCESS, 0
        return SBI_ERR_NOT_SUPPORTED, 0

    def _hsm_smp(self, fid: int) -> tuple[int, int] | None:
        """HSM on a board with more than one hart: start, stop, status and suspend for real."""
        harts, me = self.ports.harts, self.ports.hart_id
        if fid == 0:            # hart_start(hartid, start_addr, opaque)
            return harts.start(self._arg(0), self._arg(1), self._arg(2)), 0
        if fid == 1:            # hart_stop: returns only when it fails
            error = harts.stop(me)
            return None if error == SBI_SUCCESS else (error, 0)
        if fid == 2:            # hart_get_status(hartid)
            return harts.status(self._arg(0))
        if fid == 3:            # hart_suspend(suspend_type, resume_addr, opaque)
            kind = self._arg(0) & 0xFFFF_FFFF
            if kind not in (HSM_SUSPEND_RETENTIVE, HSM_SUSPEND_NON_RETENTIVE):
                return SBI_ERR_NOT_SUPPORTED, 0
            error = harts.suspend(me, kind, self._arg(1), self._arg(2))
            if error == SBI_SUCCESS:    # waits as wfi does; a non-retentive one wakes
                self.ports.suspend()    # at its resume address (HartControl.suspend)
            return error, 0
        return SBI_ERR_NOT_SUPPORTED, 0

    def _srst(self, fid: int) -> tuple[int, int] | None:
        if fid != 0:
            return SBI_ERR_NOT_SUPPORTED, 0
        reset_type, reason = self._arg(0), self._arg(1)
        failed = reason == SRST_REASON_FAILURE
        if reset_type == SRST_SHUTDOWN:
            self.ports.request_exit(GuestExit(ExitKind.FAIL, 1, "SBI system reset: system failure")
                                    if failed else GuestExit(ExitKind.POWEROFF, 0, "SBI system reset: shutdown"))
            return None
        if reset_type in (SRST_COLD_REBOOT, SRST_WARM_REBOOT):
            self.ports.request_exit(GuestExit(ExitKind.REBOOT, 0, "SBI system reset: reboot"))
            return None
        return SBI_ERR_INVALID_PARAM, 0

    def _dbcn(self, fid: int) -> tuple[int, int]:
        if fid == 2:                          # console_write_byte
            self.ports.console_write(bytes([self._arg(0) & 0xFF]))
            return SBI_SUCCESS, 0
        if fid not in (0, 1):
            return SBI_ERR_NOT_SUPPORTED, 0
        # The SBI may move fewer bytes than asked and says how many: a guest
        # asking for gigabytes gets them a bounded piece at a time.
        length = min(self._arg(0), SBI_DBCN_MAX_BYTES)
        addr = self._arg(1) | (self._arg(2) << 64)
        try:
            if fid == 0:                      # console_write
                self.ports.console_write(self.cpu.read_phys(addr, length))
                return SBI_SUCCESS, length
            data = self.ports.console_read(length)   # console_read
            if data:
                self.cpu.write_phys(addr, data)
            return SBI_SUCCESS, len(data)
        except Exception:                     # unmapped buffer: unicorn raises UcError
            return SBI_ERR_INVALID_PARAM, 0

    def _legacy(self, eid: int) -> None:
        """The v0.1 calls: one return value in a0, no error code. The IPI and fence calls
        act on the hart mask a0 points to (``_legacy_targets``)."""
        ret = 0
        if eid == LEGACY_SET_TIMER:
            self.ports.set_timer(self._arg(0))
        elif eid == LEGACY_PUTCHAR:
            self.ports.console_write(bytes([self._arg(0) & 0xFF]))
        elif eid == LEGACY_GETCHAR:
            data = self.ports.console_read(1)
            ret = data[0] if data else -1
        elif eid == LEGACY_CLEAR_IPI:
            self.ports.clear_self_ipi()
        elif eid == LEGACY_SEND_IPI:
            self._send_ipis(self._legacy_targets())
        elif eid in (LEGACY_REMOTE_FENCE_I, LEGACY_REMOTE_SFENCE_VMA,
                     LEGACY_REMOTE_SFENCE_VMA_ASID):
            self._fence(self._legacy_targets(), fence_i=eid == LEGACY_REMOTE_FENCE_I)
        elif eid == LEGACY_SHUTDOWN:
            self.ports.request_exit(GuestExit(ExitKind.POWEROFF, 0, "SBI legacy shutdown"))
            return
        self.cpu.set_x(10, _signed(ret))
