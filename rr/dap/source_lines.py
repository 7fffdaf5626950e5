"""Source lines from DWARF line tables: address -> (file, line) and (file, line) -> address.

Paths in the line tables are joined from the unit's directory, the file's
directory and its name; relative ones (guests built with -ffile-prefix-map)
are resolved against a source root the user names (the current directory by
default). A source line maps to the lowest is_stmt address of the first
line at or after it that has code, as gdb places a breakpoint.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass

from elftools.common.exceptions import ELFError

from rr.dap.dwarf_info import dwarf_of


@dataclass(frozen=True, order=True)
class LineRow:
    address: int
    path: str               # absolute path of the source file
    line: int
    is_stmt: bool


class LineTable:
    def __init__(self, rows: list[LineRow], ends: list[int]) -> None:
        # Several rows at one address: the last statement row names the line its code
        # belongs to (as a breakpoint at that line shows it), else the last row.
        last_at: dict[int, LineRow] = {}
        for row in rows:
            known = last_at.get(row.address)
            if known is None or row.is_stmt or not known.is_stmt:
                last_at[row.address] = row
        self._rows = sorted(last_at.values())
        self._starts = [row.address for row in self._rows]
        self._ends = sorted(ends)               # end_sequence addresses (no code from there)
        self._by_path: dict[str, list[LineRow]] = {}
        for row in rows:
            self._by_path.setdefault(row.path, []).append(row)

    def __bool__(self) -> bool:
        return bool(self._rows)

    @property
    def paths(self) -> list[str]:
        return sorted(self._by_path)

    def at(self, address: int) -> LineRow | None:
        """The row whose range holds ``address``."""
        index = bisect.bisect_right(self._starts, address) - 1
        if index < 0:
            return None
        row = self._rows[index]
        end = bisect.bisect_right(self._ends, row.address)
        if end < len(self._ends) and self._ends[end] <= address:
            return None                          # past the end of that sequence
        return row

    def resolve(self, path: str) -> str | None:
        """The table's name for ``path``: the same file, else the only one with that name."""
        real = os.path.realpath(path)
        if real in self._by_path:
            return real
        same_name = [p for p in self._by_path if os.path.basename(p) == os.path.basename(path)]
        return same_name[0] if len(same_name) == 1 else None

    def address_of(self, path: str, line: int) -> tuple[int, int] | None:
        """(address, line) for a breakpoint at ``line`` of ``path``: the first line at or
        after it with code; None when there is none."""
        candidates = [r for r in self._by_path.get(path, ()) if r.line >= line]
        rows = [r for r in candidates if r.is_stmt] or candidates
        if not rows:
            return None
        best = min(r.line for r in rows)
        return min(r.address for r in rows if r.line == best), best


class SourceLines:
    """An ELF's line tables, read as needed: the pc's own compilation unit (found by the
    address ranges table) for ``at``, every unit only for breakpoints by file and line
    (a kernel's tables take a minute or more to read whole)."""

    def __init__(self, dwarf, source_root: str) -> None:
        self._dwarf = dwarf
        self._source_root = source_root
        self._units: dict[int, LineTable] = {}
        self._whole: LineTable | None = None

    @classmethod
    def from_elf(cls, data: bytes, source_root: str) -> "SourceLines":
        """The line tables of an ELF; empty when there is no ELF or no DWARF."""
        return cls(dwarf_of(data), source_root)

    def __bool__(self) -> bool:
        return self._dwarf is not None

    def at(self, address: int) -> LineRow | None:
        if self._dwarf is None:
            return None
        if self._whole is not None:
            return self._whole.at(address)
        try:
            aranges = self._dwarf.get_aranges()
            offset = aranges.cu_offset_at_addr(address) if aranges is not None else None
            if offset is None:
                return self.whole().at(address) if aranges is None else None
            table = self._units.get(offset)
            if table is None:
                rows: list[LineRow] = []
                ends: list[int] = []
                _unit_rows(self._dwarf, self._dwarf.get_CU_at(offset), self._source_root,
                           rows, ends)
                table = self._units[offset] = LineTable(rows, ends)
            return table.at(address)
        except (ELFError, ValueError, KeyError, IndexError, AttributeError):
            return None

    def resolve(self, path: str) -> str | None:
        return self.whole().resolve(path)

    def address_of(self, path: str, line: int) -> tuple[int, int] | None:
        return self.whole().address_of(path, line)

    def whole(self) -> LineTable:
        if self._whole is None:
            rows: list[LineRow] = []
            ends: list[int] = []
            if self._dwarf is not None:
                try:
                    for unit in self._dwarf.iter_CUs():
                        _unit_rows(self._dwarf, unit, self._source_root, rows, ends)
                except (ELFError, ValueError, KeyError, IndexError, AttributeError):
                    rows, ends = [], []
            self._whole = LineTable(rows, ends)
        return self._whole


def _unit_rows(dwarf, unit, source_root: str, rows: list[LineRow], ends: list[int]) -> None:
    program = dwarf.line_program_for_CU(unit)
    if program is None:
        return
    top = unit.get_top_DIE()
    comp_dir = _text(top.attributes["DW_AT_comp_dir"].value) \
        if "DW_AT_comp_dir" in top.attributes else "."
    paths = _file_paths(program, comp_dir, source_root)
    for entry in program.get_entries():
        state = entry.state
        if state is None:
            continue
        if state.end_sequence:
            ends.append(state.address)
            continue
        path = paths.get(state.file)
        if path is None:
            continue
        rows.append(LineRow(state.address, path, state.line, bool(state.is_stmt)))


def _file_paths(program, comp_dir: str, source_root: str) -> dict[int, str]:
    header = program.header
    directories = [_text(d) for d in header.include_directory]
    version = header.version
    paths = {}
    for index, entry in enumerate(header.file_entry):
        name = _text(entry.name)
        dir_index = entry.dir_index
        if version >= 5:
            directory = directories[dir_index] if dir_index < len(directories) else ""
            number = index                       # DWARF 5 numbers files from 0
        else:
            directory = (comp_dir if dir_index == 0 else
                         directories[dir_index - 1] if dir_index - 1 < len(directories) else "")
            number = index + 1
        path = os.path.join(comp_dir, directory, name)
        paths[number] = os.path.realpath(os.path.join(source_root, path))
    return paths


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
