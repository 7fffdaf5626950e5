"""The device tree: content, well-formedness (dtc) and agreement with QEMU 7.2 virt."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import fdt
import pytest

from rr.monitor.board_config import BoardConfig
from rr.monitor.fdt import build_dtb, write_dtb

SERIAL = "/soc/serial@10000000"


def raw(prop) -> bytes:
    """A parsed property's value as the bytes in the blob."""
    if isinstance(prop, fdt.PropWords):
        return b"".join(word.to_bytes(4, "big") for word in prop.data)
    if isinstance(prop, fdt.PropStrings):
        return b"".join(s.encode() + b"\0" for s in prop.data)
    if isinstance(prop, fdt.PropBytes):
        return bytes(prop.data)
    return b""


def cells(prop) -> list[int]:
    return list(prop.data)


def parse(config: BoardConfig) -> fdt.FDT:
    return fdt.parse_dtb(build_dtb(config))


def full_config() -> BoardConfig:
    return BoardConfig(ram_size=256 * 1024 * 1024,
                       bootargs="console=ttyS0 earlycon=sbi rdinit=/init",
                       initrd_start=0x8800_0000, initrd_end=0x8812_3456,
                       rng_seed=bytes(range(64)))


def test_header():
    blob = build_dtb(BoardConfig())
    assert blob[:4] == bytes.fromhex("d00dfeed")
    assert int.from_bytes(blob[4:8], "big") == len(blob)
    assert int.from_bytes(blob[20:24], "big") == 17


def test_node_names():
    tree = parse(BoardConfig())
    paths = {path for path, _, _ in tree.walk()}
    expected = {
        "/", "/chosen", "/poweroff", "/reboot", "/memory@80000000", "/cpus", "/cpus/cpu@0",
        "/cpus/cpu@0/interrupt-controller", "/cpus/cpu-map", "/cpus/cpu-map/cluster0",
        "/cpus/cpu-map/cluster0/core0", "/soc", "/soc/plic@c000000", SERIAL,
        "/soc/rtc@101000", "/soc/test@100000",
        *(f"/soc/virtio_mmio@{0x10001000 + n * 0x1000:x}" for n in range(8)),
    }
    assert paths == expected
    assert not any("clint" in p for p in paths)


def test_root_and_cpu_properties():
    tree = parse(BoardConfig())
    assert tree.get_property("compatible").data == ["riscv-virtio"]
    assert tree.get_property("model").data == ["riscv-virtio,qemu"]
    assert cells(tree.get_property("#address-cells")) == [2]
    assert cells(tree.get_property("#size-cells")) == [2]
    assert cells(tree.get_property("timebase-frequency", "/cpus")) == [10_000_000]
    isa = tree.get_property("riscv,isa", "/cpus/cpu@0").value
    assert isa == "rv64imafdc_zicsr_zifencei"
    assert "sstc" not in isa


def test_sstc_is_in_every_harts_isa_only_when_offered():
    tree = parse(BoardConfig(harts=3, sstc=True))
    assert [tree.get_property("riscv,isa", f"/cpus/cpu@{hart}").value for hart in range(3)] == \
        ["rv64imafdc_zicsr_zifencei_sstc"] * 3
    plain = parse(BoardConfig(harts=3))
    assert all("sstc" not in plain.get_property("riscv,isa", f"/cpus/cpu@{hart}").value
               for hart in range(3))
    intc = tree.get_node("/cpus/cpu@0/interrupt-controller")
    assert intc.get_property("compatible").data == ["riscv,cpu-intc"]
    assert intc.exist_property("interrupt-controller")


def test_reg_values():
    tree = parse(full_config())
    regs = {
        "/memory@80000000": [0, 0x8000_0000, 0, 256 * 1024 * 1024],
        "/soc/plic@c000000": [0, 0x0C00_0000, 0, 0x60_0000],
        SERIAL: [0, 0x1000_0000, 0, 0x100],
        "/soc/rtc@101000": [0, 0x10_1000, 0, 0x1000],
        "/soc/test@100000": [0, 0x10_0000, 0, 0x1000],
        "/soc/virtio_mmio@10008000": [0, 0x1000_8000, 0, 0x1000],
    }
    for path, reg in regs.items():
        assert cells(tree.get_property("reg", path)) == reg, path


def test_large_memory_uses_both_cells():
    tree = parse(BoardConfig(ram_size=6 * 1024**3))
    assert cells(tree.get_property("reg", "/memory@80000000")) == [0, 0x8000_0000, 1, 0x8000_0000]


def test_interrupt_wiring():
    tree = parse(BoardConfig())
    plic = tree.get_node("/soc/plic@c000000")
    plic_phandle = plic.get_property("phandle").value
    intc_phandle = tree.get_property("phandle", "/cpus/cpu@0/interrupt-controller").value
    assert plic.get_property("compatible").data == ["sifive,plic-1.0.0", "riscv,plic0"]
    assert cells(plic.get_property("interrupts-extended")) == [intc_phandle, 11, intc_phandle, 9]
    assert plic.get_property("riscv,ndev").value == 95
    assert plic.exist_property("interrupt-controller")
    for path, irq in ((SERIAL, 10), ("/soc/rtc@101000", 11),
                      *((f"/soc/virtio_mmio@{0x10001000 + n * 0x1000:x}", n + 1) for n in range(8))):
        assert tree.get_property("interrupts", path).value == irq, path
        assert tree.get_property("interrupt-parent", path).value == plic_phandle, path
    assert tree.get_property("clock-frequency", SERIAL).value == 3_686_400
    assert tree.get_property("compatible", SERIAL).data == ["ns16550a"]


def test_poweroff_and_reboot_point_at_the_test_device():
    tree = parse(BoardConfig())
    test_phandle = tree.get_property("phandle", "/soc/test@100000").value
    assert tree.get_property("compatible", "/soc/test@100000").data == [
        "sifive,test1", "sifive,test0", "syscon"]
    for name, value in (("poweroff", 0x5555), ("reboot", 0x7777)):
        node = tree.get_node(f"/{name}")
        assert node.get_property("compatible").data == [f"syscon-{name}"]
        assert node.get_property("regmap").value == test_phandle
        assert node.get_property("offset").value == 0
        assert node.get_property("value").value == value


def test_chosen_with_everything():
    tree = parse(full_config())
    chosen = tree.get_node("/chosen")
    assert chosen.get_property("bootargs").value == "console=ttyS0 earlycon=sbi rdinit=/init"
    assert chosen.get_property("stdout-path").value == SERIAL
    assert cells(chosen.get_property("linux,initrd-start")) == [0, 0x8800_0000]
    assert cells(chosen.get_property("linux,initrd-end")) == [0, 0x8812_3456]
    assert raw(chosen.get_property("rng-seed")) == bytes(range(64))


def test_chosen_minimal():
    chosen = parse(BoardConfig()).get_node("/chosen")
    assert chosen.get_property("stdout-path").value == SERIAL
    for name in ("bootargs", "linux,initrd-start", "linux,initrd-end", "rng-seed"):
        assert not chosen.exist_property(name), name


def test_non_ascii_bootargs_are_kept_as_utf8():
    chosen = parse(BoardConfig(bootargs="name=caf\u00e9")).get_node("/chosen")
    assert raw(chosen.get_property("bootargs")) == "name=caf\u00e9".encode() + b"\0"


def test_write_dtb(tmp_path: Path):
    path = tmp_path / "board.dtb"
    write_dtb(BoardConfig(), path)
    assert path.read_bytes() == build_dtb(BoardConfig())


def test_deterministic():
    assert build_dtb(full_config()) == build_dtb(full_config())


# ---------------------------------------------------------------------- external tools

needs_dtc = pytest.mark.skipif(shutil.which("dtc") is None, reason="dtc not installed")
needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-riscv64") is None,
                                reason="qemu-system-riscv64 not installed")


@needs_dtc
def test_dtc_decompiles(tmp_path: Path):
    path = tmp_path / "board.dtb"
    write_dtb(full_config(), path)
    result = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", str(path)],
                            capture_output=True, text=True, check=True)
    dts = result.stdout
    assert 'bootargs = "console=ttyS0 earlycon=sbi rdinit=/init";' in dts
    assert "linux,initrd-start = <0x00 0x88000000>;" in dts
    assert "serial@10000000 {" in dts
    assert 'compatible = "sifive,plic-1.0.0\\0riscv,plic0";' in dts
    # dtc's only complaint is one it also makes about QEMU's own tree.
    warnings = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert all("interrupt_provider" in line for line in warnings), warnings


@needs_dtc
def test_dtc_round_trip(tmp_path: Path):
    """dtc re-encodes the tree to the same structure (it may reorder the strings block)."""
    path = tmp_path / "board.dtb"
    write_dtb(full_config(), path)
    again = subprocess.run(["dtc", "-I", "dtb", "-O", "dtb", str(path)],
                           capture_output=True, check=True).stdout
    ours = fdt.parse_dtb(path.read_bytes())
    theirs = fdt.parse_dtb(again)
    assert ours.to_dts() == theirs.to_dts()


def _properties(tree: fdt.FDT) -> dict[str, dict[str, bytes]]:
    return {path: {p.name: raw(p) for p in props} for path, _, props in tree.walk()}


@needs_qemu
@pytest.mark.parametrize("harts", [1, 2, 4, 8])
def test_agrees_with_qemu_virt(tmp_path: Path, harts: int):
    """Every node we emit exists in QEMU 7.2's virt tree (``-smp harts``) with the same
    properties, apart from the documented differences: the cpu nodes, cpu-map,
    phandles and the PLIC's contexts (hart h: M context 2h, S context 2h + 1) as
    QEMU numbers them."""
    qemu_dtb = tmp_path / "virt.dtb"
    subprocess.run(["qemu-system-riscv64", "-M", f"virt,dumpdtb={qemu_dtb}", "-smp", str(harts),
                    "-nographic"], capture_output=True, check=True, timeout=60)
    qemu = _properties(fdt.parse_dtb(qemu_dtb.read_bytes()))
    ours = _properties(parse(BoardConfig(harts=harts)))
    allowed = {*((f"/cpus/cpu@{hart}", "riscv,isa") for hart in range(harts)),
               ("/soc/plic@c000000", "riscv,ndev")}
    assert {path for path in qemu if path.startswith("/cpus/")} == \
        {path for path in ours if path.startswith("/cpus/")}
    for path, props in ours.items():
        if path == "/chosen":
            continue   # QEMU's carries a random rng-seed
        assert path in qemu, path
        for name, value in props.items():
            if (path, name) in allowed:
                continue
            assert qemu[path].get(name) == value, (path, name)
