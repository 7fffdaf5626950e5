"""Guest symbols: address -> symbol+offset and name -> address, from an ELF's symtab.

The symbols come from the ELF given with ``--symbols`` or from the trace's
embedded image when that is an ELF. Functions and objects carry their sizes,
so an address inside one is named by it; a size-0 label (an assembly entry
point such as ``trap_entry``) names the addresses after it in its section
up to the next symbol.
"""

from __future__ import annotations

import bisect
import io
import struct
from dataclasses import dataclass
from itertools import accumulate
from typing import Iterable, Iterator

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from rr.errors import RrError
from rr.monitor.loader import read_file

ELF_MAGIC = b"\x7fELF"
# Largest --symbols ELF read (a vmlinux with debug information is a few hundred MiB).
MAX_SYMBOLS_FILE = 2 << 30
_KINDS = {"STT_FUNC": "function", "STT_OBJECT": "object", "STT_NOTYPE": "label"}
_KIND_NUMBERS = {2: "function", 1: "object", 0: "label"}      # st_info's low 4 bits
_NO_SECTION = frozenset({0, 0xFFF1, 0xFFF2})                 # SHN_UNDEF, SHN_ABS, SHN_COMMON
# Elf64_Sym and Elf32_Sym, little-endian, as (name, info, shndx, value, size).
_SYM64 = struct.Struct("<IBxHQQ")
_SYM32 = struct.Struct("<IIIBxH")


class SymbolError(RrError):
    """A symbol file that cannot be read."""


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int
    size: int
    kind: str                    # "function", "object" or "label"

    @property
    def end(self) -> int:
        return self.address + self.size

    def contains(self, address: int) -> bool:
        return self.address <= address < self.end


@dataclass(frozen=True)
class CodeRange:
    """An executable part of the ELF: where it runs and its bytes (for scanning)."""

    address: int
    data: bytes


class SymbolTable:
    def __init__(self, symbols: Iterable[Symbol] = (),
                 sections: Iterable[tuple[int, int]] = (),
                 code: Iterable[CodeRange] = (), origin: str = "") -> None:
        self.origin = origin
        self.code = list(code)
        ordered = sorted(symbols, key=_preference)
        self._by_name: dict[str, Symbol] = {}
        for symbol in ordered:
            known = self._by_name.get(symbol.name)
            if known is None or (known.kind == "label" and symbol.kind != "label"):
                self._by_name[symbol.name] = symbol
        self._sized = [s for s in ordered if s.size > 0]
        self._sized_starts = [s.address for s in self._sized]
        # _reach[i]: the furthest end of sized[0..i]; a lookup walking back stops below it.
        self._reach = list(accumulate((s.end for s in self._sized), max))
        self._all = ordered
        self._all_starts = [s.address for s in ordered]
        self._sections = sorted(sections)

    @classmethod
    def from_elf(cls, data: bytes, origin: str = "") -> "SymbolTable":
        if not data.startswith(ELF_MAGIC):
            raise SymbolError(f"{origin or 'symbol file'}: not an ELF file")
        try:
            elf = ELFFile(io.BytesIO(data))
            symbols, sections = [], []
            by_index = {}
            for index, section in enumerate(elf.iter_sections()):
                if section["sh_flags"] & SH_FLAGS.SHF_ALLOC and section["sh_size"]:
                    by_index[index] = (section["sh_addr"], section["sh_addr"] + section["sh_size"])
            sections = list(by_index.values())
            symtab = elf.get_section_by_name(".symtab") or elf.get_section_by_name(".dynsym")
            if symtab is not None:
                symbols = list(_symbols_of(elf, symtab))
            code = [CodeRange(seg["p_vaddr"], seg.data()) for seg in elf.iter_segments()
                    if seg["p_type"] == "PT_LOAD" and seg["p_flags"] & 1 and seg["p_filesz"]]
        except (ELFError, ValueError, KeyError, AttributeError, IndexError, struct.error) as exc:
            raise SymbolError(f"{origin or 'symbol file'}: unreadable ELF ({exc})") from None
        return cls(symbols, sections, code, origin)

    # --- queries ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._by_name)

    def __bool__(self) -> bool:
        return bool(self._by_name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def get(self, name: str) -> Symbol | None:
        return self._by_name.get(name)

    def containing(self, address: int) -> Symbol | None:
        """The sized symbol (function or object) that holds ``address``; functions first."""
        index = bisect.bisect_right(self._sized_starts, address)
        best = None
        while index > 0:
            index -= 1
            if self._reach[index] <= address:
                break                    # nothing from here down reaches the address
            symbol = self._sized[index]
            if symbol.contains(address) and (best is None or best.kind != "function"):
                best = symbol
                if best.kind == "function":
                    break
        return best

    def function_at(self, address: int) -> Symbol | None:
        symbol = self.locate(address)
        return symbol[0] if symbol is not None and symbol[0].kind != "object" else None

    def locate(self, address: int) -> tuple[Symbol, int] | None:
        """(symbol, offset) naming ``address``, or None."""
        symbol = self.containing(address)
        if symbol is not None:
            return symbol, address - symbol.address
        index = bisect.bisect_right(self._all_starts, address) - 1
        if index < 0:
            return None
        start = self._all[index].address
        # Only a size-0 label names what follows it, and only within its section.
        labels = [s for s in self._all[bisect.bisect_left(self._all_starts, start):index + 1]
                  if not s.size]
        if not labels or not self._same_section(start, address):
            return None
        return labels[0], address - start

    def describe(self, address: int) -> str:
        """'name+0x1c', 'name' or '' when no symbol names ``address``."""
        found = self.locate(address)
        if found is None:
            return ""
        symbol, offset = found
        return f"{symbol.name}+{offset:#x}" if offset else symbol.name

    def _same_section(self, a: int, b: int) -> bool:
        for start, end in self._sections:
            if start <= a < end:
                return start <= b < end
        return False


def _symbols_of(elf: ELFFile, symtab) -> Iterator[Symbol]:
    """The symbols to name addresses with: functions, objects and labels defined in a
    section, without the assembler's local names ($x, .L...).

    A kernel's symtab has tens of thousands of entries, which pyelftools parses one
    record object at a time (about a second for a vmlinux); the table of a
    little-endian ELF is unpacked here in one pass (tests/repl/test_symbols.py checks
    both readings agree)."""
    if not elf.little_endian or symtab["sh_entsize"] != (24 if elf.elfclass == 64 else 16):
        yield from _symbols_by_record(symtab)
        return
    names = elf.get_section(symtab["sh_link"]).data()
    for name_at, info, shndx, value, size in _unpacked(symtab.data(), elf.elfclass):
        kind = _KIND_NUMBERS.get(info & 0xF)
        if kind is None or shndx in _NO_SECTION or not name_at:
            continue
        name = names[name_at:names.index(b"\0", name_at)].decode("utf-8", "replace")
        if name and not name.startswith(("$", ".L")):
            yield Symbol(name, value, size, kind)


def _unpacked(data: bytes, elfclass: int) -> Iterator[tuple[int, int, int, int, int]]:
    if elfclass == 64:
        yield from _SYM64.iter_unpack(data[:len(data) - len(data) % _SYM64.size])
        return
    for name_at, value, size, info, shndx in _SYM32.iter_unpack(
            data[:len(data) - len(data) % _SYM32.size]):
        yield name_at, info, shndx, value, size


def _symbols_by_record(symtab) -> Iterator[Symbol]:
    """The same symbols read through pyelftools' records (any byte order)."""
    for sym in symtab.iter_symbols():
        kind = _KINDS.get(sym["st_info"]["type"])
        name = sym.name
        if kind is None or not name or name.startswith(("$", ".L")):
            continue
        if not isinstance(sym["st_shndx"], int):     # SHN_UNDEF, SHN_ABS, SHN_COMMON
            continue
        yield Symbol(name, sym["st_value"], sym["st_size"], kind)


def load_symbols(data: bytes, name: str, symbols_path: str | None) -> tuple[SymbolTable, str]:
    """The symbol table (from --symbols, else from the guest image ``data`` if an ELF) and a
    phrase saying where it came from."""
    if symbols_path:
        data = read_file(symbols_path, "--symbols", MAX_SYMBOLS_FILE)   # a FIFO is refused
        table = SymbolTable.from_elf(data, symbols_path)
        return table, f"{len(table)} symbols from {symbols_path}"
    if data.startswith(ELF_MAGIC):
        table = SymbolTable.from_elf(data, name)
        return table, f"{len(table)} symbols from {name}"
    return SymbolTable(), f"no symbols ({name} is not an ELF; use --symbols ELF)"


def _preference(symbol: Symbol) -> tuple:
    """Order by address; at one address functions first, then the fewest leading underscores."""
    underscores = len(symbol.name) - len(symbol.name.lstrip("_"))
    return (symbol.address, symbol.kind != "function", underscores, symbol.name)
