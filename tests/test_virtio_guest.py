"""`--disk`, `--disk-writable` and `--rng` from the command line, against QEMU and through traces.

The bundled virtio guest reads sector 0 of its disk, increments a boot
counter in sector 1 (written, then read back) and takes two virtio-rng
requests. It prints the same on QEMU virt given the same devices in the same
slots; a recorded run replays byte for byte in a fresh process from the disk
the trace embeds (or, for a disk larger than DISK_EMBED_LIMIT, from the file
the trace names, checked by sha256); the user's file changes only with
--disk-writable.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, run_rrvm
from rr.log.trace_reader import TraceReader
from rr.monitor.constants import DISK_EMBED_LIMIT
from test_cli_errors import assert_one_error

BIN = REPO / "guests" / "bin"
GUEST = BIN / "virtio.elf"
DISK = BIN / "virtio-disk.img"
EXPECTED = REPO / "guests" / "expected" / "virtio.out"
QEMU = shutil.which("qemu-system-riscv64")
TIMEOUT = 120
SECTOR = 512

pytestmark = pytest.mark.skipif(not GUEST.is_file() or not DISK.is_file(),
                                reason="guests/bin/virtio.elf or virtio-disk.img not built")


def text(data: bytes) -> str:
    return data.decode(errors="replace").replace("\r\n", "\n")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def disk(tmp_path) -> Path:
    return Path(shutil.copy(DISK, tmp_path / "disk.img"))


def large_disk(tmp_path: Path) -> Path:
    """The same first sectors in a file too big to embed (sparse)."""
    path = tmp_path / "large.img"
    path.write_bytes(DISK.read_bytes())
    with open(path, "r+b") as f:
        f.truncate(DISK_EMBED_LIMIT + 1024 * SECTOR)
    return path


def rrvm_ok(*args: str) -> subprocess.CompletedProcess:
    proc = run_rrvm(*args, timeout=TIMEOUT)
    assert proc.returncode == 0 and proc.stderr == b"", text(proc.stderr)
    return proc


def boot_counts(output: bytes) -> str:
    return next(line for line in text(output).splitlines() if "boot count" in line)


# --- running ---------------------------------------------------------------------------

def test_output_on_rrvm(disk):
    proc = rrvm_ok("run", str(GUEST), "--disk", str(disk), "--rng")
    assert text(proc.stdout) == EXPECTED.read_text()


@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv64 not installed")
def test_same_output_as_qemu(tmp_path, disk):
    qemu_disk = Path(shutil.copy(DISK, tmp_path / "qemu.img"))
    qemu = subprocess.run(
        [QEMU, "-M", "virt", "-bios", "default", "-kernel", str(GUEST), "-nographic",
         "-no-reboot", "-monitor", "none", "-serial", "stdio",
         "-global", "virtio-mmio.force-legacy=false",
         "-drive", f"file={qemu_disk},if=none,format=raw,id=d0",
         "-device", "virtio-blk-device,drive=d0", "-device", "virtio-rng-device"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT, cwd=REPO)
    ours = rrvm_ok("run", str(GUEST), "--disk", str(disk), "--rng")
    qemu_text = text(qemu.stdout)
    assert qemu.returncode == 0, qemu_text
    assert qemu_text[qemu_text.index("virtio: start"):] == text(ours.stdout)
    # QEMU writes through to its drive: the same sector 1 as rrvm's overlay had.
    assert qemu_disk.read_bytes()[:4 * SECTOR] != DISK.read_bytes()[:4 * SECTOR]


def test_disk_file_changes_only_with_disk_writable(disk):
    original = disk.read_bytes()
    for _ in range(2):
        proc = rrvm_ok("run", str(GUEST), "--disk", str(disk))
        assert "boot count 0 -> 1" in boot_counts(proc.stdout)
    assert disk.read_bytes() == original

    for expected in ("0 -> 1", "1 -> 2"):
        proc = rrvm_ok("run", str(GUEST), "--disk", str(disk), "--disk-writable")
        assert expected in boot_counts(proc.stdout)
    changed = disk.read_bytes()
    assert len(changed) == len(original)
    assert changed[:SECTOR] == original[:SECTOR]
    assert changed[SECTOR:SECTOR + 8] == b"RRBC" + (2).to_bytes(4, "little")
    assert changed[2 * SECTOR:] == original[2 * SECTOR:]


def test_dtb_is_the_same_with_devices_but_for_the_rng_seed(tmp_path, disk):
    """All eight slots are in the tree whatever is plugged in, as on QEMU; --rng also
    hands the kernel a seed in /chosen."""
    import fdt

    trees = {}
    for name, options in (("plain", ()), ("disk", ("--disk", str(disk))),
                          ("rng", ("--disk", str(disk), "--rng"))):
        rrvm_ok("dtb", str(GUEST), *options, "-o", str(tmp_path / f"{name}.dtb"))
        trees[name] = fdt.parse_dtb((tmp_path / f"{name}.dtb").read_bytes())
    assert trees["disk"].to_dtb() == trees["plain"].to_dtb()
    chosen = trees["rng"].get_node("chosen")
    assert len(chosen.get_property("rng-seed").data) == 64 // 4     # parsed as 32-bit words
    chosen.remove_property("rng-seed")
    assert trees["rng"].to_dtb() == trees["plain"].to_dtb()


# --- errors ----------------------------------------------------------------------------

def test_missing_disk_is_one_error_line(tmp_path):
    missing = tmp_path / "no-such.img"
    for command in (["run"], ["record", "-o", str(tmp_path / "t.rrt")], ["dtb", "-o", "x.dtb"]):
        proc = run_rrvm(*command, str(GUEST), "--disk", str(missing))
        assert_one_error(proc, f"disk image {missing}: no such file")
    assert not (tmp_path / "t.rrt").exists()


def test_directory_disk_is_one_error_line(tmp_path):
    assert_one_error(run_rrvm("run", str(GUEST), "--disk", str(tmp_path)),
                     f"disk image {tmp_path}: is a directory")


def test_disk_writable_without_disk_is_one_error_line():
    assert_one_error(run_rrvm("run", str(GUEST), "--disk-writable"), "--disk-writable", "--disk")


# --- record and replay -----------------------------------------------------------------

def record(trace: Path, disk: Path, *options: str) -> subprocess.CompletedProcess:
    return rrvm_ok("record", str(GUEST), "--disk", str(disk), "--rng", *options, "-o", str(trace))


def replay(trace: Path) -> subprocess.CompletedProcess:
    return run_rrvm("replay", str(trace), timeout=TIMEOUT)


def test_record_replay_with_disk_and_rng(tmp_path, disk):
    original = disk.read_bytes()
    trace = tmp_path / "virtio.rrt"
    rec = record(trace, disk)
    assert text(rec.stdout) == EXPECTED.read_text()
    with TraceReader(trace, strict=True) as reader:
        header = reader.header
        assert header.disk is not None                      # small: embedded
        assert reader.embedded_bytes("disk") == original
        assert header.board["disk"] == {"path": str(disk), "sha256": sha256(disk),
                                        "size": len(original), "writable": False}
        assert header.board["virtio_rng"] is True
        seed = header.board["rng_seed"]                    # host entropy, kept by the trace
        assert len(seed) == 64 and seed in reader.dtb_bytes()
        entropy = list(reader.events("entropy"))
    assert [len(e.data) for e in entropy] == [32, 32] and entropy[0].data != entropy[1].data

    disk.unlink()                                           # not needed: the trace has it
    proc = replay(trace)
    assert proc.returncode == 0 and proc.stderr == b"", text(proc.stderr)
    assert proc.stdout == rec.stdout                        # byte for byte
    info = text(run_rrvm("info", str(trace)).stdout)
    assert f"virtio disk {disk} (embedded), virtio-rng" in info, info


def test_writable_recording_replays_from_the_recorded_contents(tmp_path, disk):
    """The embedded disk is the file as it was before the run: the replay
    repeats the recorded run although the file has changed since."""
    trace = tmp_path / "writable.rrt"
    before = sha256(disk)
    rec = record(trace, disk, "--disk-writable")
    assert "0 -> 1" in boot_counts(rec.stdout)
    assert sha256(disk) != before
    with TraceReader(trace) as reader:
        assert reader.header.board["disk"]["sha256"] == before
        assert reader.header.board["disk"]["writable"] is True
    after = disk.read_bytes()
    proc = replay(trace)
    assert proc.returncode == 0 and proc.stderr == b"", text(proc.stderr)
    assert proc.stdout == rec.stdout
    assert disk.read_bytes() == after                       # replay never writes the file


def test_large_disk_is_referenced_and_checked(tmp_path):
    disk = large_disk(tmp_path)
    trace = tmp_path / "large.rrt"
    rec = record(trace, disk)
    assert trace.stat().st_size < DISK_EMBED_LIMIT // 4
    with TraceReader(trace) as reader:
        assert reader.header.disk is None
        assert reader.header.board["disk"]["sha256"] == sha256(disk)
    proc = replay(trace)
    assert proc.returncode == 0 and proc.stderr == b"", text(proc.stderr)
    assert proc.stdout == rec.stdout

    recorded_hash = sha256(disk)
    with open(disk, "r+b") as f:
        f.seek(SECTOR)
        f.write(b"changed")
    line = assert_one_error(replay(trace), str(disk), "changed", recorded_hash)
    assert sha256(disk) not in line          # no digest of a file that is not the recorded one

    disk.unlink()
    assert_one_error(replay(trace), f"disk image {disk}: no such file")


def test_large_writable_disk_cannot_be_replayed(tmp_path):
    """Not embedded and written through: the file no longer matches, and the
    replay says so instead of running from the wrong contents."""
    disk = large_disk(tmp_path)
    trace = tmp_path / "large-writable.rrt"
    before = sha256(disk)
    record(trace, disk, "--disk-writable")
    after = sha256(disk)
    assert after != before
    line = assert_one_error(replay(trace), str(disk), before)
    assert after not in line
