"""Debian's U-Boot (qemu-riscv64_smode) on rrvm, driven through a real terminal.

U-Boot is a guest nobody here wrote: it probes the device tree, uses the SBI
(TIME, SRST, the base extension), polls the NS16550A and resets the board.
QEMU virt is the oracle where a value depends on the board (crc32 of memory).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect", reason="pexpect is needed to drive a terminal")

from conftest import REPO, RRVM  # noqa: E402  (tests/ is on sys.path under pytest)

UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
if not UBOOT.is_file():
    pytest.skip(f"{UBOOT} not found (install Debian's u-boot-qemu package)",
                allow_module_level=True)

TIMEOUT = 60                      # generous: a whole session takes about 2 s
PROMPT = "\n=> "                  # "\n" so that crc32's "==> " is not taken for it
AUTOBOOT = "Hit any key to stop autoboot"
VERSION = "U-Boot 2023.01"
# crc32 80200000 1000 under qemu-system-riscv64 -M virt -bios default (QEMU 7.2),
# used only when QEMU is not installed to compute it again.
KNOWN_CRC = "8931a31a"
CRC_RE = re.compile(r"crc32 for 80200000 \.\.\. 80200fff ==> ([0-9a-f]{8})")


def spawn(argv: list[str]) -> "pexpect.spawn":
    return pexpect.spawn(argv[0], argv[1:], cwd=str(REPO), timeout=TIMEOUT,
                         encoding="utf-8", codec_errors="replace", dimensions=(40, 200))


def stop_autoboot(child) -> None:
    child.expect_exact(AUTOBOOT)
    child.send(" ")
    child.expect_exact(PROMPT)


def command(child, line: str) -> str:
    """Type one command at the U-Boot prompt; return its output (without the echo)."""
    child.sendline(line)
    child.expect_exact(line)                  # U-Boot's echo of what we typed
    child.expect_exact(PROMPT)
    return child.before.replace("\r", "")


def close(child) -> None:
    if child.isalive():
        child.terminate(force=True)


@pytest.fixture(scope="module")
def reference_crc() -> str:
    """The crc32 QEMU virt computes over 0x80200000..0x80200fff after loading U-Boot."""
    qemu = shutil.which("qemu-system-riscv64")
    if qemu is None:
        return KNOWN_CRC
    child = spawn([qemu, "-M", "virt", "-bios", "default", "-kernel", str(UBOOT),
                   "-nographic", "-monitor", "none", "-serial", "stdio"])
    try:
        stop_autoboot(child)
        match = CRC_RE.search(command(child, "crc32 80200000 1000"))
        assert match, "QEMU's U-Boot printed no crc32 line"
        child.sendline("poweroff")
        child.expect(pexpect.EOF)
    finally:
        close(child)
    return match.group(1)


def test_uboot_session(reference_crc):
    child = spawn([*RRVM, "run", str(UBOOT)])
    try:
        stop_autoboot(child)

        assert VERSION in command(child, "version")

        sbi = command(child, "sbi")
        # U-Boot 2023.01 prints "Unknown implementation ID <n>" from the wrong
        # variable, so the implementation id is not checked.
        assert "SBI 1.0" in sbi
        for extension in ("SBI Base Functionality", "Timer Extension",
                          "System Reset Extension", "Hart State Management Extension"):
            assert extension in sbi, f"'sbi' does not list {extension}:\n{sbi}"

        crc = CRC_RE.search(command(child, "crc32 80200000 1000"))
        assert crc, "no crc32 line"
        assert crc.group(1) == reference_crc

        assert "hi" in command(child, "echo hi").split("\n")

        child.sendline("reset")
        child.expect_exact("resetting ...")
        child.expect_exact(VERSION)               # the banner again: the board reset
        stop_autoboot(child)
        assert VERSION in command(child, "version")

        child.sendline("poweroff")
        child.expect(pexpect.EOF)
        child.close()
        assert child.signalstatus is None
        assert child.exitstatus == 0
        assert "Traceback" not in child.before
    finally:
        close(child)


def test_ctrl_a_x_quits_and_restores_terminal():
    script = ('echo "STTY<$(stty -g)>"; "$@"; status=$?; '
              'echo "STATUS<$status>"; echo "STTY<$(stty -g)>"')
    child = spawn(["/bin/sh", "-c", script, "sh", *RRVM, "run", str(UBOOT)])
    try:
        child.expect(r"STTY<([0-9a-f:]+)>")
        before = child.match.group(1)
        stop_autoboot(child)
        child.send("\x01x")                       # Ctrl-A x, as in QEMU
        child.expect(r"STATUS<(\d+)>")
        transcript = child.before
        status = int(child.match.group(1))
        child.expect(r"STTY<([0-9a-f:]+)>")
        after = child.match.group(1)
        child.expect(pexpect.EOF)
    finally:
        close(child)
    assert status == 130
    assert "Traceback" not in transcript
    assert "stopped by the user" in transcript
    assert after == before, "the terminal mode was not restored"


def test_piped_stdin():
    # On a pipe every byte is there at once: the "\n" stops the autoboot
    # countdown, then the two commands run at the prompt.
    try:
        proc = subprocess.run([*RRVM, "run", str(UBOOT)], cwd=REPO, capture_output=True,
                              input=b"\nversion\npoweroff\n", timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace")
        pytest.fail("U-Boot never ran the piped commands (typed-ahead input lost?); "
                    f"output ends with:\n{out[-400:]}")
    out = proc.stdout.decode(errors="replace")
    err = proc.stderr.decode(errors="replace")
    assert "Traceback" not in err
    assert re.search(r"^U-Boot 2023\.01.*\r?\n\r?\n.*gcc", out, re.M), out[-1000:]
    assert "poweroff ..." in out
    assert proc.returncode == 0, err
