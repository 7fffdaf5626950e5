"""The flattened device tree handed to the guest in a1, modelled on QEMU 7.2 ``virt``.

The tree mirrors what ``qemu-system-riscv64 -M virt`` generates for one hart
(same node names, reg values, interrupt numbers and phandle numbering), so a
guest sees the same description on both and QEMU stays a usable oracle.
Deliberate differences, all because the board is smaller:

* riscv,isa lists only what this CPU implements: ``sstc`` only with ``--sstc``,
  where the monitor emulates stimecmp (rr/monitor/stimecmp.py);
* no CLINT: the monitor provides the timer and IPIs through the SBI, and an
  S-mode guest cannot touch the CLINT anyway;
* no PCI, flash, fw-cfg, platform bus or PMU nodes;
* riscv,ndev is the highest source number (95), not QEMU 7.2's off-by-one 96.

The blob is built with the ``fdt`` package (PyPI ``fdt``), not by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import printable

import fdt

from rr.monitor.board_config import BoardConfig
from rr.monitor.constants import (
    FDT_COMPATIBLE, FDT_CPU_ISA, FDT_CPU_ISA_SSTC, FDT_CPU_MMU_TYPE, FDT_MODEL, FDT_PHANDLE_CPU0,
    FDT_PHANDLE_CPU0_INTC, FDT_PHANDLE_PLIC, FDT_PHANDLE_TEST, FDT_PHANDLES_PER_HART,
    FDT_ROOT_ADDRESS_CELLS,
    FDT_ROOT_SIZE_CELLS, FDT_VERSION, IRQ_M_EXT, IRQ_S_EXT, PLIC_BASE, PLIC_NDEV, PLIC_SIZE,
    RAM_BASE, RTC_BASE, RTC_IRQ, RTC_SIZE, SIFIVE_TEST_BASE, SIFIVE_TEST_PASS,
    SIFIVE_TEST_RESET, SIFIVE_TEST_SIZE, TIMEBASE_HZ, UART0_BASE, UART0_IRQ, UART0_SIZE,
    UART_CLOCK_HZ, VIRTIO_BASE, VIRTIO_COUNT, VIRTIO_IRQ_BASE, VIRTIO_STRIDE,
)

_CELL_MASK = 0xFFFF_FFFF


@dataclass(frozen=True)
class Phandles:
    """QEMU virt's phandle numbering for ``harts`` harts: the last hart's cpu node gets 1
    and its interrupt controller 2, hart 0's come last, then the PLIC and the test
    device (one hart: 1, 2, 3, 4)."""

    harts: int

    def cpu(self, hart: int) -> int:
        return FDT_PHANDLE_CPU0 + FDT_PHANDLES_PER_HART * (self.harts - 1 - hart)

    def intc(self, hart: int) -> int:
        return FDT_PHANDLE_CPU0_INTC + FDT_PHANDLES_PER_HART * (self.harts - 1 - hart)

    @property
    def plic(self) -> int:
        return FDT_PHANDLE_PLIC + FDT_PHANDLES_PER_HART * (self.harts - 1)

    @property
    def test(self) -> int:
        return FDT_PHANDLE_TEST + FDT_PHANDLES_PER_HART * (self.harts - 1)


def _u64_cells(value: int) -> list[int]:
    """A 64-bit number as two big-endian cells (the 2-cell address/size convention)."""
    return [(value >> 32) & _CELL_MASK, value & _CELL_MASK]


def _reg(address: int, size: int) -> fdt.PropWords:
    return fdt.PropWords("reg", *_u64_cells(address), *_u64_cells(size))


def _string(name: str, value: str) -> fdt.Property:
    """A string property; text the library refuses (non-printable, non-ASCII) goes in as UTF-8 bytes."""
    if value and all(ch in printable for ch in value):
        return fdt.PropStrings(name, value)
    return fdt.PropBytes(name, data=value.encode("utf-8") + b"\0")


def _node(name: str, *items: fdt.Property | fdt.Node) -> fdt.Node:
    return fdt.Node(name, *items)


def _device(name: str, base: int, size: int, *items: fdt.Property | fdt.Node) -> fdt.Node:
    """A ``name@base`` node with its reg."""
    return _node(f"{name}@{base:x}", *items, _reg(base, size))


def _plic_device(phandles: Phandles, name: str, base: int, size: int, compatible: str, irq: int,
                 *items: fdt.Property) -> fdt.Node:
    """A device whose interrupt goes to the PLIC."""
    return _device(name, base, size,
                   fdt.PropWords("interrupts", irq),
                   fdt.PropWords("interrupt-parent", phandles.plic),
                   *items,
                   fdt.PropStrings("compatible", compatible))


# ---------------------------------------------------------------------- nodes

def _chosen(config: BoardConfig) -> fdt.Node:
    node = _node("chosen")
    if config.bootargs:
        node.append(_string("bootargs", config.bootargs))
    if config.stdout_path:
        node.append(_string("stdout-path", config.stdout_path))
    if config.initrd_start is not None and config.initrd_end is not None:
        node.append(fdt.PropWords("linux,initrd-start", *_u64_cells(config.initrd_start)))
        node.append(fdt.PropWords("linux,initrd-end", *_u64_cells(config.initrd_end)))
    if config.rng_seed:
        node.append(fdt.PropBytes("rng-seed", data=bytes(config.rng_seed)))
    return node


def _syscon_action(phandles: Phandles, name: str, value: int) -> fdt.Node:
    """poweroff/reboot: Linux's syscon drivers write ``value`` to the test device."""
    return _node(name,
                 fdt.PropWords("value", value),
                 fdt.PropWords("offset", 0),
                 fdt.PropWords("regmap", phandles.test),
                 fdt.PropStrings("compatible", f"syscon-{name}"))


def _memory(config: BoardConfig) -> fdt.Node:
    return _device("memory", RAM_BASE, config.ram_size,
                   fdt.PropStrings("device_type", "memory"))


def _cpu_intc(phandles: Phandles, hart: int) -> fdt.Node:
    return _node("interrupt-controller",
                 fdt.PropWords("#interrupt-cells", 1),
                 fdt.Property("interrupt-controller"),
                 fdt.PropStrings("compatible", "riscv,cpu-intc"),
                 fdt.PropWords("phandle", phandles.intc(hart)))


def _cpu(phandles: Phandles, hart: int, isa: str) -> fdt.Node:
    return _node(f"cpu@{hart}",
                 fdt.PropWords("phandle", phandles.cpu(hart)),
                 fdt.PropStrings("device_type", "cpu"),
                 fdt.PropWords("reg", hart),
                 fdt.PropStrings("status", "okay"),
                 fdt.PropStrings("compatible", "riscv"),
                 fdt.PropStrings("riscv,isa", isa),
                 fdt.PropStrings("mmu-type", FDT_CPU_MMU_TYPE),
                 _cpu_intc(phandles, hart))


def _cpus(phandles: Phandles, sstc: bool) -> fdt.Node:
    """One cpu node per hart, and QEMU's cpu-map: every hart a core of cluster 0."""
    harts = range(phandles.harts)
    isa = FDT_CPU_ISA + (FDT_CPU_ISA_SSTC if sstc else "")
    cpu_map = _node("cpu-map", _node("cluster0", *(
        _node(f"core{hart}", fdt.PropWords("cpu", phandles.cpu(hart))) for hart in harts)))
    return _node("cpus",
                 fdt.PropWords("#address-cells", 1),
                 fdt.PropWords("#size-cells", 0),
                 fdt.PropWords("timebase-frequency", TIMEBASE_HZ),
                 *(_cpu(phandles, hart, isa) for hart in harts), cpu_map)


def _plic(phandles: Phandles) -> fdt.Node:
    """Contexts as QEMU numbers them: hart h's M-mode context 2h, its S-mode context 2h + 1."""
    contexts = [cell for hart in range(phandles.harts)
                for cell in (phandles.intc(hart), IRQ_M_EXT, phandles.intc(hart), IRQ_S_EXT)]
    return _device("plic", PLIC_BASE, PLIC_SIZE,
                   fdt.PropWords("phandle", phandles.plic),
                   fdt.PropWords("riscv,ndev", PLIC_NDEV),
                   fdt.PropWords("interrupts-extended", *contexts),
                   fdt.Property("interrupt-controller"),
                   fdt.PropStrings("compatible", "sifive,plic-1.0.0", "riscv,plic0"),
                   fdt.PropWords("#address-cells", 0),
                   fdt.PropWords("#interrupt-cells", 1))


def _virtio_slots(phandles: Phandles) -> list[fdt.Node]:
    """Highest slot first, the order QEMU emits them (Linux probes in tree order)."""
    return [_plic_device(phandles, "virtio_mmio", VIRTIO_BASE + n * VIRTIO_STRIDE, VIRTIO_STRIDE,
                         "virtio,mmio", VIRTIO_IRQ_BASE + n)
            for n in reversed(range(VIRTIO_COUNT))]


def _soc(phandles: Phandles) -> fdt.Node:
    test = _device("test", SIFIVE_TEST_BASE, SIFIVE_TEST_SIZE,
                   fdt.PropWords("phandle", phandles.test),
                   fdt.PropStrings("compatible", "sifive,test1", "sifive,test0", "syscon"))
    return _node("soc",
                 fdt.PropWords("#address-cells", FDT_ROOT_ADDRESS_CELLS),
                 fdt.PropWords("#size-cells", FDT_ROOT_SIZE_CELLS),
                 fdt.PropStrings("compatible", "simple-bus"),
                 fdt.Property("ranges"),
                 _plic_device(phandles, "rtc", RTC_BASE, RTC_SIZE, "google,goldfish-rtc", RTC_IRQ),
                 _plic_device(phandles, "serial", UART0_BASE, UART0_SIZE, "ns16550a", UART0_IRQ,
                              fdt.PropWords("clock-frequency", UART_CLOCK_HZ)),
                 test,
                 *_virtio_slots(phandles),
                 _plic(phandles))


# ---------------------------------------------------------------------- public API

def build_tree(config: BoardConfig) -> fdt.FDT:
    """The device tree as an ``fdt.FDT`` object (for inspection, or to add nodes before encoding)."""
    tree = fdt.FDT(entries=[])   # a fresh list: the library's default one is shared
    root = tree.root
    phandles = Phandles(config.harts)
    for item in (fdt.PropWords("#address-cells", FDT_ROOT_ADDRESS_CELLS),
                 fdt.PropWords("#size-cells", FDT_ROOT_SIZE_CELLS),
                 fdt.PropStrings("compatible", FDT_COMPATIBLE),
                 fdt.PropStrings("model", FDT_MODEL),
                 _chosen(config),
                 _syscon_action(phandles, "poweroff", SIFIVE_TEST_PASS),
                 _syscon_action(phandles, "reboot", SIFIVE_TEST_RESET),
                 _memory(config),
                 _cpus(phandles, config.sstc),
                 _soc(phandles)):
        root.append(item)
    return tree


def build_dtb(config: BoardConfig) -> bytes:
    """The flattened device tree blob (version 17, boot cpu 0) for ``config``."""
    return build_tree(config).to_dtb(version=FDT_VERSION, boot_cpuid_phys=0)


def write_dtb(config: BoardConfig, path: str | Path) -> None:
    """Save the blob, e.g. to compare it with QEMU's using dtc (``rrvm dtb`` writes the
    tree a boot payload settles on: this one unless ``--dtb`` replaced it)."""
    Path(path).write_bytes(build_dtb(config))
