"""Boot Linux (guests/linux/) to its /init: instructions and seconds, rrvm against QEMU.

    python bench/linux_boot.py               # best of 3
    python bench/linux_boot.py --repeat 5

Each engine boots the same Image, initramfs and disk (virtio-blk and
virtio-rng, console on ttyS0); the time is the wall time from starting the
process to the kernel's "Run /init as init process" line on its console, so
process start-up, firmware (OpenSBI on QEMU) and the kernel's boot are in
it and init's own 3-second console wait is not. rrvm's instruction count
to that line comes from an in-process run of the same board. Prints a
table; asserts nothing. Needs guests/linux/build.sh to have run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from engines import (LINUX, LINUX_APPEND as APPEND, qemu_linux, qemu_record,  # noqa: E402
                     rrvm_linux, seconds_to_marker)
from rr.monitor.board import Board, BootPayload, settle_payload  # noqa: E402
from rr.monitor.board_config import BoardConfig  # noqa: E402
from rr.monitor.disk_image import DiskImage  # noqa: E402
from rr.monitor.inputs import HostInputs, ConsoleInput  # noqa: E402
from rr.monitor.loader import parse_image  # noqa: E402
from rr.monitor.run_loop import RunLoop  # noqa: E402

MARKER = b"Run /init as init process"


class _NoConsole(ConsoleInput):
    def read_available(self, max_bytes: int) -> bytes:
        return b""

    def wait(self, timeout: float | None) -> None:
        pass


def instructions_to_marker() -> int:
    config = BoardConfig(bootargs=APPEND, virtio_rng=True)
    payload = settle_payload(config, BootPayload(
        parse_image("Image", (LINUX / "Image").read_bytes()),
        (LINUX / "initramfs.cpio.gz").read_bytes(), disk=DiskImage(LINUX / "disk.img")))
    output = bytearray()
    found: list[int] = []
    board: Board | None = None

    def console(data: bytes) -> None:
        output.extend(data)
        if not found and MARKER in output:
            found.append(board.cpu.icount_in_hook())
            loop.pause()

    board = Board(config, payload, HostInputs(_NoConsole()), console)
    loop = RunLoop(board)
    loop.run()
    if not found:
        raise SystemExit("linux_boot.py: the in-process boot never printed the marker")
    return found[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not (LINUX / "Image").is_file():
        sys.exit(f"linux_boot.py: no Linux build in {LINUX} (run guests/linux/build.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        engines = {
            "rrvm run": rrvm_linux("run"),
            "rrvm record": rrvm_linux("record", "-o", f"{tmp}/boot.rrt"),
            "QEMU": qemu_linux(),
            "QEMU record": qemu_linux(*qemu_record(Path(tmp) / "boot.qrr")),
        }
        times = {name: min(seconds_to_marker(argv, MARKER) for _ in range(args.repeat))
                 for name, argv in engines.items()}
    icount = instructions_to_marker()
    print(f"Linux boot to '{MARKER.decode()}': {icount / 1e6:.1f} M instructions on rrvm; "
          f"best of {args.repeat}\n")
    print(f"{'engine':<14}{'seconds':>9}{'x QEMU':>9}")
    for name, seconds in times.items():
        print(f"{name:<14}{seconds:>9.2f}{seconds / times['QEMU']:>9.1f}")
    print(f"\nrrvm record / QEMU record = {times['rrvm record'] / times['QEMU record']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
