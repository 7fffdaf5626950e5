"""Linux 6.1 (guests/linux/build.sh) boots to its /init and powers off.

Skipped unless the kernel has been built: build.sh leaves Image,
initramfs.cpio.gz and disk.img in ${RRVM_CACHE:-~/.cache/rrvm}/linux/
(about 2.5 minutes on two cores). A boot is about 59 M instructions, 2 s.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from board_fixture import ScriptedInputs

from rr.monitor.board import Board, BootPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.disk_image import DiskImage
from rr.monitor.exits import ExitKind
from rr.monitor.loader import parse_image
from rr.monitor.run_loop import RunLoop

LINUX = Path(os.environ.get("RRVM_CACHE", Path.home() / ".cache" / "rrvm")) / "linux"
FILES = ("Image", "initramfs.cpio.gz", "disk.img")
MAX_INSNS = 200_000_000

pytestmark = pytest.mark.skipif(
    not all((LINUX / name).is_file() for name in FILES),
    reason=f"no Linux build in {LINUX} (run guests/linux/build.sh)")


class TypedAtPrompt(ScriptedInputs):
    """Console bytes offered only once init has asked for a line, as a person would type.

    Bytes offered earlier can meet Linux's 8250 start-up, which reads and
    drops whatever the (FIFO-less) receive register holds, as on QEMU.
    """

    def __init__(self, console: bytes, output: list[bytes]) -> None:
        super().__init__(console)
        self.output = output

    def console_bytes(self, icount, max_bytes):
        if b"type a line" not in b"".join(self.output[-64:]):
            return b""
        return super().console_bytes(icount, max_bytes)


def boot(bootargs: str, console: bytes = b"", devices: bool = True):
    output: list[bytes] = []
    config = BoardConfig(bootargs=bootargs, virtio_rng=devices)
    disk = DiskImage(LINUX / "disk.img") if devices else None
    payload = BootPayload(parse_image("Image", (LINUX / "Image").read_bytes()),
                          (LINUX / "initramfs.cpio.gz").read_bytes(), disk=disk)
    board = Board(config, payload, TypedAtPrompt(console, output), output.append)
    exit_ = RunLoop(board, max_insns=MAX_INSNS).run()
    return exit_, b"".join(output).decode("utf-8", "replace").replace("\r", "")


def test_boots_to_init_reads_disk_console_and_rng_then_powers_off():
    exit_, out = boot("console=ttyS0", console=b"hello rrvm\r")
    assert exit_.kind == ExitKind.POWEROFF, out[-2000:]
    assert "SBI specification v1.0 detected" in out
    assert "rrvm init: hello from pid 1" in out
    assert 'rrvm init: read from console: "hello rrvm"' in out
    assert 'rrvm init: disk says: "rrvm disk: hello from the virtio disk"' in out
    assert "rrvm init: hwrng: 8 bytes" in out
    assert out.rstrip().endswith("reboot: Power down")


def test_without_devices_init_still_runs_and_says_so():
    exit_, out = boot("console=ttyS0", devices=False)
    assert exit_.kind == ExitKind.POWEROFF, out[-2000:]
    assert "rrvm init: no input" in out
    assert "rrvm init: no disk" in out
    assert "rrvm init: goodbye, powering off" in out
