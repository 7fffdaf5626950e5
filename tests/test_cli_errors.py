"""Bad input to `rrvm` gives one clear line on stderr, never a traceback."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess

import pytest

from conftest import REPO, run_rrvm

MB = 1 << 20


def assert_one_error(proc: subprocess.CompletedProcess, *fragments: str,
                     status: int | None = None) -> str:
    """One non-empty stderr line "rrvm: error: ..." containing every fragment."""
    err = proc.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    assert proc.returncode != 0
    if status is not None:
        assert proc.returncode == status, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("rrvm: error:"), err
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def assert_usage_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """argparse's usage error: status 2, a usage line and 'rrvm...: error:'."""
    err = proc.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    assert proc.returncode == 2
    assert err.startswith("usage: rrvm")
    assert re.search(r"^rrvm( \w+)?: error: ", err, re.M), err
    for fragment in fragments:
        assert fragment in err


@pytest.fixture
def spin_elf(build_guest):
    return build_guest(".globl _start\n_start:\n\tj .\n", "spin")


# --- images -----------------------------------------------------------------

def test_missing_image(tmp_path):
    missing = tmp_path / "no-such.elf"
    assert_one_error(run_rrvm("run", str(missing)), str(missing), "no such file")


def test_directory_image(tmp_path):
    assert_one_error(run_rrvm("run", str(tmp_path)), str(tmp_path), "directory")


def test_empty_image(tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert_one_error(run_rrvm("run", str(empty)), str(empty), "empty")


def test_foreign_elf():
    ls = shutil.which("ls") or "/bin/ls"
    with open(ls, "rb") as f:
        if f.read(4) != b"\x7fELF":
            pytest.skip(f"{ls} is not an ELF file")
    assert_one_error(run_rrvm("run", ls), ls, "not a RISC-V")


def test_gzip_image(tmp_path):
    image = tmp_path / "Image.gz"
    image.write_bytes(gzip.compress(b"\x13\x00\x00\x00" * 1024))
    assert_one_error(run_rrvm("run", str(image)), str(image), "gzip")


def test_raw_image_larger_than_ram(tmp_path):
    image = tmp_path / "big.bin"
    with open(image, "wb") as f:
        f.truncate(20 * MB)                     # sparse: 20 MiB of zeros
    line = assert_one_error(run_rrvm("run", "--mem", "16M", str(image)), str(image))
    assert "RAM" in line and "--mem" in line


def test_elf_segment_outside_ram(build_guest):
    elf = build_guest(".globl _start\n_start:\n\tj .\n", "low", "-Ttext=0x40000000")
    line = assert_one_error(run_rrvm("run", str(elf)), str(elf), "does not fit in RAM")
    assert "0x40000000" in line or "0x3ffff000" in line      # the segment's range


# --- options ----------------------------------------------------------------

@pytest.mark.parametrize("size", ["8M", "32G"])
def test_mem_out_of_range(spin_elf, size):
    assert_one_error(run_rrvm("run", "--mem", size, str(spin_elf)), "--mem", "out of range")


def test_mem_bad_syntax(spin_elf):
    assert_usage_error(run_rrvm("run", "--mem", "lots", str(spin_elf)), "--mem")


def test_unknown_option():
    assert_usage_error(run_rrvm("run", "--no-such-option"), "--no-such-option")


def test_missing_initrd(spin_elf, tmp_path):
    initrd = tmp_path / "initrd.cpio"
    assert_one_error(run_rrvm("run", "--initrd", str(initrd), str(spin_elf)),
                     str(initrd), "no such file")


def test_dtb_not_a_dtb(spin_elf, tmp_path):
    dtb = tmp_path / "board.dtb"
    dtb.write_text("/dts-v1/; / { };\n")        # source, not a blob
    assert_one_error(run_rrvm("run", "--dtb", str(dtb), str(spin_elf)), str(dtb))


# --- guests that go wrong ----------------------------------------------------

def test_guest_reads_unmapped_memory(build_guest):
    elf = build_guest(".globl _start\n_start:\n\tli t0, 0x20000000\n\tld t1, 0(t0)\n\tj .\n",
                      "unmapped")
    line = assert_one_error(run_rrvm("run", str(elf)), "0x20000000", "after 1 instruction")
    assert re.search(r"pc 0x8020000[0-9a-f]", line), line


def test_guest_jumps_to_nowhere(build_guest):
    elf = build_guest(".globl _start\n_start:\n\tli t0, 0\n\tjr t0\n", "nowhere")
    line = assert_one_error(run_rrvm("run", str(elf)), "instructions")
    assert re.search(r"\b0x0\b", line), line


@pytest.mark.parametrize("fault, expected", [
    ("li t0, 0x20000000\n\tld t1, 0(t0)", 4),       # 3 nops + lui, then the load faults
    ("li t0, 0\n\tjr t0", 5),                       # 3 nops + addi + jr, then the fetch faults
])
def test_fault_reports_exact_instruction_count(build_guest, fault, expected):
    elf = build_guest(f".option norvc\n.globl _start\n_start:\n\tnop\n\tnop\n\tnop\n\t{fault}\n",
                      "counted")
    line = assert_one_error(run_rrvm("run", str(elf)))
    assert f"after {expected} instructions" in line, line


def test_guest_spins_past_max_insns(spin_elf):
    line = assert_one_error(run_rrvm("run", "--max-insns", "100000", str(spin_elf)),
                            "--max-insns", "100000", status=4)
    assert "0x80200000" in line                 # where it was spinning


# --- other commands -----------------------------------------------------------

def test_dtb_command_writes_a_device_tree(tmp_path):
    dtc = shutil.which("dtc")
    if dtc is None:
        pytest.skip("dtc is not installed")
    out = tmp_path / "board.dtb"
    append = "console=ttyS0 rrvm.test=42"
    proc = run_rrvm("dtb", "-o", str(out), "--append", append)
    assert proc.returncode == 0, proc.stderr.decode()
    assert out.read_bytes().startswith(b"\xd0\x0d\xfe\xed")
    dts = subprocess.run([dtc, "-I", "dtb", "-O", "dts", str(out)], capture_output=True,
                         text=True, check=True).stdout
    assert '"riscv-virtio"' in dts
    assert f'bootargs = "{append}"' in dts


def test_dtb_command_needs_output():
    assert_usage_error(run_rrvm("dtb"), "-o")


def test_run_without_image_runs_demo():
    demo = REPO / "guests" / "bin" / "demo.elf"
    if not demo.is_file():
        pytest.skip(f"{demo} has not been built yet")
    proc = run_rrvm("run", timeout=60)
    assert "Traceback" not in proc.stderr.decode(errors="replace")
    assert proc.stdout.strip(), "the demo guest printed nothing"


def test_wait_without_gdb_is_one_error_line():
    assert_one_error(run_rrvm("run", "--wait"), "--wait", "needs --gdb PORT", status=1)


def test_symbols_without_gdb_is_one_error_line(tmp_path):
    assert_one_error(run_rrvm("run", "--symbols", str(REPO / "guests" / "bin" / "demo.elf")),
                     "--symbols", "needs --gdb PORT", status=1)
    trace, text = tmp_path / "hello.rr", tmp_path / "not-an-elf"
    assert run_rrvm("record", str(REPO / "guests" / "bin" / "hello.elf"), "-o",
                    str(trace)).returncode == 0
    text.write_text("hello\n")
    assert_one_error(run_rrvm("debug", str(trace), "--gdb", "0", "--symbols", str(text)),
                     f"{text}: not an ELF file", status=1)


def test_max_insns_with_gdb_is_one_error_line():
    assert_one_error(run_rrvm("run", "--gdb", "0", "--max-insns", "10"),
                     "--max-insns cannot be combined with --gdb", status=1)


def test_live_gdb_on_a_busy_port_is_one_error_line():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert_one_error(run_rrvm("record", "--gdb", str(port), "-o", "/dev/null"),
                         f"port {port}", "already in use", status=1)
