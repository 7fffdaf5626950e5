"""Shared fixtures: how to start `python -m rr` and how to build tiny guests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RRVM = [sys.executable, "-m", "rr"]
CROSS_GCC = "riscv64-unknown-elf-gcc"
ENGINES = ("native", "hook")     # the counting engines (rr/monitor/engine_choice.py)


def run_rrvm(*args: str, timeout: float = 60, stdin: bytes | None = b"") -> subprocess.CompletedProcess:
    """Run `python -m rr ARGS` from the repository root; bytes in, text out."""
    return subprocess.run([*RRVM, *args], cwd=REPO, input=stdin, capture_output=True,
                          timeout=timeout)


@pytest.fixture(params=ENGINES)
def engine(request, monkeypatch):
    """The test once per counting engine: RRVM_ENGINE for this process and the commands it
    starts. A module that wants every test on both uses ``pytestmark = both_engines``."""
    monkeypatch.setenv("RRVM_ENGINE", request.param)
    return request.param


both_engines = pytest.mark.usefixtures("engine")


@pytest.fixture
def rrvm():
    """The run_rrvm helper, for tests that prefer a fixture to an import."""
    return run_rrvm


@pytest.fixture
def build_guest(tmp_path):
    """build_guest(asm_source, name, *gcc_flags) -> path of a bare-metal RISC-V ELF.

    Defaults to an S-mode guest linked at 0x80200000; skips without the cross compiler.
    """
    if shutil.which(CROSS_GCC) is None:
        pytest.skip(f"{CROSS_GCC} is not installed")

    def build(source: str, name: str = "guest", *flags: str) -> Path:
        src, elf = tmp_path / f"{name}.S", tmp_path / f"{name}.elf"
        src.write_text(source)
        flags = flags or ("-march=rv64gc", "-mabi=lp64d", "-Ttext=0x80200000")
        subprocess.run([CROSS_GCC, "-nostdlib", *flags, "-o", str(elf), str(src)],
                       check=True, capture_output=True)
        return elf

    return build


def rewrite(src: Path, dst: Path, edit_events=None, edit_footer=None, edit_header=None,
            **writer_options) -> Path:
    """A copy of a trace with the same header, events and footer, each passed through its edit."""
    from rr.log.index import TraceFooter
    from rr.log.trace_reader import TraceReader
    from rr.log.trace_writer import TraceWriter

    with TraceReader(src, strict=True) as reader:
        header, footer, events = reader.header, reader.footer, list(reader.events())
    if edit_events:
        events = edit_events(events)
    footer = TraceFooter(final_icount=footer.final_icount, exit_status=footer.exit_status,
                         exit_kind=footer.exit_kind, exit_code=footer.exit_code,
                         state_hash=footer.state_hash, closed=footer.closed,
                         hart_insns=footer.hart_insns)
    if edit_footer:
        footer = edit_footer(footer)
    if edit_header:
        header = edit_header(header)
    writer = TraceWriter(dst, header, fsync=False, **writer_options)
    for event in events:
        writer.write(event)
    writer.close(footer)
    return dst


def patch_symbol(src: Path, dst: Path, name: str, value: int) -> Path:
    """A copy of an ELF with the 8-byte initial value of data symbol ``name`` replaced."""
    from elftools.elf.elffile import ELFFile

    data = bytearray(src.read_bytes())
    with open(src, "rb") as f:
        elf = ELFFile(f)
        address = elf.get_section_by_name(".symtab").get_symbol_by_name(name)[0]["st_value"]
        for section in elf.iter_sections():
            start = section["sh_addr"]
            if section["sh_type"] == "SHT_PROGBITS" and start <= address < start + section["sh_size"]:
                offset = section["sh_offset"] + address - start
                data[offset:offset + 8] = value.to_bytes(8, "little")
                break
        else:
            raise LookupError(f"{name} is not initialised data in {src}")
    dst.write_bytes(bytes(data))
    return dst
