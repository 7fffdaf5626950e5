"""Reading symbol tables: the one-pass reading of a symtab against pyelftools' records,
and lookups against a plain scan, on every guest ELF, a 32-bit object and vmlinux."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from repl_helpers import BIN
from rr.repl.symbols import SymbolTable, _symbols_by_record, _symbols_of

VMLINUX = Path(os.environ.get("RRVM_CACHE", Path.home() / ".cache" / "rrvm")) / "linux" / "vmlinux"
ELVES = sorted(BIN.glob("*.elf"))


def by_record(data: bytes) -> SymbolTable:
    """The table as reading each symbol through pyelftools gives it."""
    elf = ELFFile(io.BytesIO(data))
    symtab = elf.get_section_by_name(".symtab")
    table = SymbolTable.from_elf(data)
    return SymbolTable(list(_symbols_by_record(symtab)), table._sections, table.code)


def scanned(table: SymbolTable, address: int):
    """``containing`` by a scan of every sized symbol: of those holding the address, the
    one starting nearest below it, a function before any object."""
    holding = [s for s in reversed(table._sized) if s.contains(address)]
    functions = [s for s in holding if s.kind == "function"]
    return (functions or holding or [None])[0]


def check(data: bytes, samples: int) -> None:
    elf = ELFFile(io.BytesIO(data))
    symtab = elf.get_section_by_name(".symtab")
    assert list(_symbols_of(elf, symtab)) == list(_symbols_by_record(symtab))
    table, reference = SymbolTable.from_elf(data), by_record(data)
    assert table.names() == reference.names() and len(table) > 0
    rng = random.Random(len(data))
    starts = [s.address for s in table._sized]
    addresses = [a + d for a in rng.sample(starts, min(samples, len(starts)))
                 for d in (0, 1, rng.randrange(1, 1 << 12))]
    for address in addresses:
        assert table.containing(address) == scanned(table, address), hex(address)
        assert table.describe(address) == reference.describe(address)


@pytest.mark.parametrize("elf", ELVES, ids=[path.name for path in ELVES])
def test_guest_symbols_read_in_one_pass_are_pyelftools_records(elf):
    check(elf.read_bytes(), 200)


def test_a_32_bit_objects_symbols(tmp_path):
    gcc = shutil.which("riscv64-unknown-elf-gcc")
    if gcc is None:
        pytest.skip("needs riscv64-unknown-elf-gcc to make a 32-bit ELF")
    source = tmp_path / "small.c"
    source.write_text("int counter;\nstatic int hidden[4];\n"
                      "int bump(int n) { hidden[n & 3]++; return counter += n; }\n")
    obj = tmp_path / "small.o"
    subprocess.run([gcc, "-march=rv32imac", "-mabi=ilp32", "-O1", "-c", str(source), "-o",
                    str(obj)], check=True)
    data = obj.read_bytes()
    assert data[4] == 1                                  # ELFCLASS32
    check(data, 10)
    assert SymbolTable.from_elf(data).get("bump").kind == "function"


@pytest.mark.skipif(not VMLINUX.is_file(), reason="no Linux build (guests/linux/build.sh)")
def test_the_kernels_symbols_read_in_one_pass_are_pyelftools_records():
    check(VMLINUX.read_bytes(), 2000)
