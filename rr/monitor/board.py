"""The virtual board: harts (one unless --smp), RAM, devices at QEMU virt's addresses, the SBI.

``Board`` wires the parts together and puts the guest in its initial state
(``reset``): images in RAM, a0 = hart id, a1 = device tree, S-mode at the
entry point, exactly what OpenSBI hands its payload on QEMU virt. Running is
the run loop's business (``run_loop.py``).

virtio devices fill the virtio-mmio slots as QEMU virt fills them from its
``-device`` options: the first in the highest slot (7, irq 8), the next one
below. The order is the disk (``--disk``) then the entropy source
(``--rng``), so ``-device virtio-blk-device,... -device virtio-rng-device``
gives QEMU the same layout. Every other slot stays empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from rr.monitor import fdt
from rr.monitor.board_config import BoardConfig, DiskConfig
from rr.monitor.address_spaces import AddressSpaces
from rr.monitor.bus import MmioBus
from rr.monitor.clock import VirtualClock, make_clock
from rr.monitor.constants import (
    DMA_VIRTIO_BLK, DMA_VIRTIO_RNG, MIDELEG_S_INTERRUPTS, MIP_SEIP, MIP_SSIP, PLIC_BASE,
    PLIC_CONTEXTS_PER_HART, PLIC_NUM_SOURCES, PRIV_S, RAM_BASE, SSTATUS_SIE, RTC_BASE, RTC_IRQ,
    SIFIVE_TEST_BASE, UART0_BASE, UART0_IRQ, VIRTIO_COUNT,
)
from rr.monitor.counters import CounterEmulator
from rr.monitor.cpu import Cpu, prepare_engines
from rr.monitor.device_writes import DeviceWrites
from rr.monitor.hart import Hart, HsmStatus
from rr.monitor.hart_control import BoardHarts
from rr.monitor.devices.goldfish_rtc import GoldfishRtc
from rr.monitor.devices.plic import Plic
from rr.monitor.devices.sifive_test import SifiveTest
from rr.monitor.devices.uart16550 import Uart16550
from rr.monitor.devices.virtio_blk import VirtioBlk
from rr.monitor.devices.virtio_mmio import VirtioMmioSlot
from rr.monitor.devices.virtio_queue import RamDma, unicorn_code_invalidator
from rr.monitor.devices.virtio_rng import VirtioRng
from rr.monitor.disk_image import DiskImage
from rr.monitor.exits import ExitKind, GuestExit
from rr.monitor.guest_memory import GuestMemory
from rr.monitor.inputs import InputSource
from rr.monitor.interrupts import CpuInterruptLines
from rr.monitor.loader import GuestImage, check_fits, dtb_address, initrd_address
from rr.monitor.ram import GuestRam
from rr.monitor.sbi import Sbi, SbiPorts
from rr.monitor.stimecmp import StimecmpEmulator
from rr.monitor.timer import SbiTimer
from rr.monitor.traps import TrapHandler
from rr.errors import ImageError

# The floating-point unit starts enabled ("dirty"), as OpenSBI leaves it.
MSTATUS_FS_DIRTY = 3 << 13
UART_LSR_OFFSET = 5
UART_LSR_DATA_READY = 0x01


class _NoLine:
    """A hart's M-mode PLIC context: nothing in the hart listens to it."""

    def set_level(self, level: bool) -> None:
        pass


@dataclass
class BootPayload:
    """What reset puts in RAM."""

    image: GuestImage
    initrd: bytes | None = None
    dtb: bytes | None = None          # None: generate from the board configuration
    # virtio-blk's backing store. Guest writes stay in its overlay (and go
    # through to the file only when it was opened writable); it outlives board
    # resets, as a disk outlives a reboot.
    disk: DiskImage | None = None


@dataclass
class SettledPayload(BootPayload):
    """A payload checked against its board configuration, its initrd placed and its device
    tree fixed: what a trace embeds and a board boots from as it is."""


def settle_payload(config: BoardConfig, payload: BootPayload) -> SettledPayload:
    """Check the images fit, place the initrd and fix the device tree, before any board exists.

    The result is what a trace embeds, so a replay boots from the same bytes.
    A run that records settles the payload itself (the trace header needs it
    before the board exists); the board settles any other payload.
    """
    check_fits(payload.image, config.ram_size)
    if payload.initrd is not None:
        start = initrd_address(payload.image, config.ram_size, len(payload.initrd))
        config.initrd_start, config.initrd_end = start, start + len(payload.initrd)
    disk = payload.disk
    if disk is not None and config.disk is None:
        config.disk = DiskConfig(disk.path, disk.sha256, disk.size, disk.writable)
    dtb = payload.dtb if payload.dtb is not None else fdt.build_dtb(config)
    if dtb_address(config.ram_size, len(dtb)) < payload.image.end:
        raise ImageError("the device tree does not fit in RAM above the image "
                         "(use --mem to enlarge RAM)")
    return SettledPayload(payload.image, payload.initrd, dtb, disk)


class _CurrentCpu:
    """Whichever hart is current, for what dates inputs and output by position (its
    pc and ``icount_in_hook`` are the board's wherever the scheduler is)."""

    def __init__(self, board: "Board") -> None:
        self._board = board

    @property
    def pc(self) -> int:
        return self._board.cpu.pc

    def icount_in_hook(self) -> int:
        return self._board.cpu.icount_in_hook()


class Board:
    """The machine. ``cpu``, ``lines``, ``timer``, ``sbi``, ``memory``, ``address_spaces``
    and ``traps`` are those of the current hart (the one that runs, or ran last);
    ``harts`` has them all (hart.py)."""

    def __init__(self, config: BoardConfig, payload: BootPayload, inputs: InputSource,
                 console_out) -> None:
        self.config = config
        self.payload = (payload if isinstance(payload, SettledPayload)
                        else settle_payload(config, payload))
        self.inputs = inputs
        self.console_out = console_out
        self.device_writes = DeviceWrites()
        self.exit_request: GuestExit | None = None
        # Console bytes already taken from the input source but not yet in
        # the UART (given back by a receive-FIFO reset); fed before new input.
        self.console_backlog = bytearray()
        self.suspend_requested = False
        self.replan_requested = False
        # The current run goes past switch positions because no other hart could run
        # at its start (smp_run_loop.py); a hook that wakes one ends it (hart_may_run).
        self.running_alone = False
        # Where the current run ends (the run loop's target for it).
        self.run_end = 0
        prepare_engines()
        # Every hart runs in the first one's engine (hart_engine.py).
        first = Cpu()
        self.hart_engine = first.hart_engine
        self.ram = GuestRam(first, RAM_BASE, config.ram_size)
        self.clock = make_clock(config.clock, inputs)
        self.hart_control = BoardHarts(self) if config.harts > 1 else None
        self.harts = [self._make_hart(0, first)]
        for index in range(1, config.harts):
            self.harts.append(self._make_hart(index, Cpu(shares=first)))
        self.select(0)
        self.bus = MmioBus(self.hart_engine)
        self.dtb = self.payload.dtb
        self.dtb_addr = dtb_address(config.ram_size, len(self.dtb))
        self.reset(first=True)

    def running_cpu(self) -> Cpu | _CurrentCpu:
        """The hart that runs: the only one, or a view that follows the scheduler."""
        return self.cpu if len(self.harts) == 1 else _CurrentCpu(self)

    def _make_hart(self, index: int, cpu: Cpu) -> Hart:
        memory = GuestMemory(cpu, self.ram)
        lines = CpuInterruptLines(cpu)
        cpu.use_clock(self.clock if isinstance(self.clock, VirtualClock) else None)
        timer = SbiTimer(self.clock, lines, sstc=self.config.sstc)
        sbi = Sbi(cpu, SbiPorts(
            console_write=self.console_out, console_read=self._sbi_console_read,
            set_timer=self._sbi_set_timer, send_self_ipi=lines.set_software_pending,
            clear_self_ipi=self._clear_ipi, flush_tlb=cpu.flush_tlb,
            request_exit=self._sbi_exit, suspend=self._sbi_suspend, load=memory.load,
            hart_id=index, harts=self.hart_control))
        address_spaces = AddressSpaces(cpu, memory, self.replan)
        stimecmp = StimecmpEmulator(cpu, timer, self._sbi_set_timer) if self.config.sstc else None
        traps = TrapHandler(cpu, memory, sbi, CounterEmulator(cpu, self.clock), address_spaces,
                            stimecmp)
        return Hart(index, cpu, memory, lines, timer, sbi, address_spaces, traps)

    @property
    def position(self) -> int:
        """Instructions executed by all harts: the current hart's count."""
        return self.cpu.icount

    def select(self, index: int) -> None:
        """Make hart ``index`` the current one (the scheduler's switch; it carries the
        position over)."""
        hart = self.harts[index]
        self.current = index
        self.hart = hart
        self.cpu, self.memory, self.lines = hart.cpu, hart.memory, hart.lines
        self.timer, self.sbi = hart.timer, hart.sbi
        self.address_spaces, self.traps = hart.address_spaces, hart.traps

    # --- assembly -----------------------------------------------------------
    def _make_devices(self) -> None:
        contexts = [line for hart in self.harts
                    for line in (_NoLine(), hart.lines.line(MIP_SEIP))]
        self.plic = Plic(PLIC_BASE, PLIC_NUM_SOURCES, PLIC_CONTEXTS_PER_HART * len(self.harts),
                         contexts)
        self.uart = Uart16550(UART0_BASE, self.plic.source_line(UART0_IRQ), self.console_out,
                              unread=self._console_unread)
        self.rtc = GoldfishRtc(RTC_BASE, self.plic.source_line(RTC_IRQ), self._wall_time)
        self.test_device = SifiveTest(SIFIVE_TEST_BASE, self._test_device_exit)
        self.virtio = self._virtio_slots()
        for device in (self.test_device, self.rtc, self.plic, self.uart, *self.virtio):
            self.bus.attach(device)

    def _virtio_slots(self) -> list[VirtioMmioSlot]:
        """The eight virtio-mmio slots, devices from the highest slot down (QEMU's order)."""
        slots = [VirtioMmioSlot.at_index(n) for n in range(VIRTIO_COUNT)]
        free = iter(reversed(range(VIRTIO_COUNT)))
        # Requests complete inside the guest's QueueNotify store, an exact
        # instruction; RAM filled behind unicorn's back drops stale translations.
        # Each device's DMA is announced under its name, for watchpoints.
        def dma(device: str) -> RamDma:
            return RamDma(self.ram.map, RAM_BASE,
                          unicorn_code_invalidator(self.hart_engine),
                          self.device_writes.announcer(device))
        if self.payload.disk is not None:
            n = next(free)
            slots[n] = VirtioBlk(slots[n].base, n, self.plic.source_line(slots[n].irq_source),
                                 dma(DMA_VIRTIO_BLK), self.payload.disk)
        if self.config.virtio_rng:
            n = next(free)
            slots[n] = VirtioRng(slots[n].base, n, self.plic.source_line(slots[n].irq_source),
                                 dma(DMA_VIRTIO_RNG), self._entropy)
        return slots

    def reset(self, first: bool = False) -> None:
        """Power-on (or reboot): fresh devices, images reloaded, hart 0 at the entry point,
        the other harts stopped until HSM starts them."""
        if not first:
            self.ram.zero()
        self.exit_request = None
        self.select(0)
        if self.hart_control is not None:
            self.hart_control.pending_ipis.clear()
        for hart in self.harts:
            hart.timer.reset()
            hart.lines.wanted = hart.lines.applied = 0
        self._make_devices()
        self._load_payload()
        for hart in self.harts:
            self._reset_hart(hart)
        cpu = self.cpu
        cpu.set_x(10, 0)                    # a0: hart id
        cpu.set_x(11, self.dtb_addr)        # a1: device tree
        cpu.priv = PRIV_S
        cpu.pc = self.payload.image.entry
        cpu.invalidate_caches()

    def _reset_hart(self, hart: Hart) -> None:
        cpu = hart.cpu
        for n in range(32):
            cpu.set_x(n, 0)
            cpu.set_f(n, 0)
        for name in ("satp", "sstatus", "sie", "stvec", "sscratch", "sepc", "scause",
                     "stval", "mip", "mie", "medeleg", "mcounteren", "scounteren", "fcsr"):
            cpu.set_csr(name, 0)
        cpu.set_csr("mideleg", MIDELEG_S_INTERRUPTS)
        cpu.set_csr("mstatus", MSTATUS_FS_DIRTY)
        hart.address_spaces.sync()          # a reboot keeps following address spaces
        hart.status = HsmStatus.STARTED if hart.index == 0 else HsmStatus.STOPPED
        hart.waiting, hart.resume, hart.retired = False, None, 0
        if hart.index:
            cpu.priv = PRIV_S

    def start_hart(self, hart: Hart, address: int, opaque: int) -> None:
        """HSM hart_start (or the wake-up from a non-retentive suspend): S-mode at
        ``address``, a0 = hart id, a1 = ``opaque``, the MMU off and interrupts masked,
        as the SBI specification leaves a starting hart. From another hart's ecall its
        registers are set once that hart's run returns (``Cpu.later``)."""
        hart.cpu.later(lambda: self._enter_at(hart, address, opaque))
        hart.status, hart.waiting, hart.resume = HsmStatus.STARTED, False, None

    @staticmethod
    def _enter_at(hart: Hart, address: int, opaque: int) -> None:
        cpu = hart.cpu
        cpu.set_csr("satp", 0)
        cpu.set_csr("sstatus", cpu.csr("sstatus") & ~SSTATUS_SIE)
        cpu.set_x(10, hart.index)
        cpu.set_x(11, opaque)
        cpu.priv = PRIV_S
        cpu.pc = address
        cpu.flush_tlb()
        hart.address_spaces.reloaded()      # virtual watches follow its satp

    def _load_payload(self) -> None:
        for seg in self.payload.image.segments:
            self._load(seg.paddr, seg.data)
        if self.payload.initrd is not None:
            self._load(self.config.initrd_start, self.payload.initrd)
        self.cpu.write_phys(self.dtb_addr, self.dtb)

    def _load(self, paddr: int, data: bytes) -> None:
        if self.ram.contains(paddr, len(data)):
            self.ram.load(paddr, data)      # zero blocks cost no memory; reset forgets code
        else:
            self.cpu.write_phys(paddr, data)

    # --- state outside the hart and RAM --------------------------------------
    def get_state(self) -> dict:
        """Devices, clock, timer, interrupt lines and console backlog, as plain data.

        Taken only between runs, where no exit or stop request is pending.
        """
        first = self.harts[0]
        state = {
            "devices": [device.get_state() for device in self.bus.devices],
            "clock": self.clock.get_state(), "timer": first.timer.get_state(),
            "lines": first.lines.get_state(), "console_backlog": bytes(self.console_backlog),
        }
        if len(self.harts) > 1:
            state["smp"] = {"current": self.current,
                            "harts": [hart.get_state() for hart in self.harts],
                            "control": self.hart_control.get_state()}
        return state

    def set_state(self, state: dict) -> None:
        for device, device_state in zip(self.bus.devices, state["devices"]):
            device.set_state(device_state)
        self.clock.set_state(state["clock"])
        first = self.harts[0]
        first.timer.set_state(state["timer"])
        first.lines.set_state(state["lines"])
        if len(self.harts) > 1:
            smp = state["smp"]
            for hart, hart_state in zip(self.harts, smp["harts"]):
                hart.set_state(hart_state)
            self.hart_control.set_state(smp["control"])
            self.select(smp["current"])
        self.console_backlog[:] = state["console_backlog"]
        self.exit_request = None
        self.suspend_requested = self.replan_requested = False

    # --- services to the SBI and devices ------------------------------------
    def _wall_time(self) -> int:
        return self.inputs.wall_time_ns(self.cpu.icount_in_hook())

    def _entropy(self, size: int) -> bytes:
        """virtio-rng's bytes: a logged input, so a replay hands back the recorded ones."""
        return self.inputs.entropy(self.cpu.icount_in_hook(), size)

    def _sbi_set_timer(self, ticks: int) -> None:
        self.timer.program(ticks, self.cpu.icount_in_hook())
        # A new deadline may fall inside the current run: let the loop re-plan. A
        # deadline at or after the run's end is planned for when the loop goes on.
        deadline = self.timer.deadline_icount()
        if deadline is None or deadline < self.run_end:
            self.replan()

    def replan(self) -> None:
        """From a hook: end the current run after this instruction; the run loop goes on
        from there (a new timer deadline, or hooks that changed)."""
        self.replan_requested = True
        self.cpu.stop()

    def hart_may_run(self) -> None:
        """From a hook: another hart may now be able to run (an IPI, hart_start). A run
        that was planned past the next switch position because no other hart could
        run ends after this instruction, so the switch happens where it would have."""
        if self.running_alone:
            self.replan()

    def _sbi_console_read(self, size: int) -> bytes:
        """Bytes from the UART's receive FIFO, as OpenSBI's console would read them."""
        out = bytearray()
        while len(out) < size and self.uart.read(UART_LSR_OFFSET, 1) & UART_LSR_DATA_READY:
            out.append(self.uart.read(0, 1))
        return bytes(out)

    def _console_unread(self, data: bytes) -> None:
        self.console_backlog[:0] = data

    def _clear_ipi(self) -> None:
        self.cpu.set_csr("mip", self.cpu.mip() & ~MIP_SSIP)

    def _sbi_exit(self, exit_: GuestExit) -> None:
        self.exit_request = exit_
        self.cpu.stop()

    def _sbi_suspend(self) -> None:
        self.suspend_requested = True
        self.cpu.stop()

    def _test_device_exit(self, kind: str, code: int) -> None:
        # Stopping from an MMIO callback re-executes the access on resume;
        # an exit never resumes, so it is safe here (docs/unicorn-facts.md, fact 20).
        exit_kind = ExitKind(kind)
        detail = {ExitKind.POWEROFF: "sifive test device: poweroff",
                  ExitKind.REBOOT: "sifive test device: reset",
                  ExitKind.FAIL: f"sifive test device: failure code {code}"}[exit_kind]
        self.exit_request = GuestExit(exit_kind, code, detail)
        self.cpu.stop()
