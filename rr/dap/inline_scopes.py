"""Inlined calls from DWARF debugging information: which inlined function a pc is in.

A compiler that inlines ``producer`` into ``task_entry`` leaves one machine
frame, but the source has two calls; DW_TAG_inlined_subroutine entries say
which code ranges came from which inlined function and the line of the call
site. A debugger shows one frame per level, as gdb does: the innermost at the
pc's own line, each outer one at the line of the call it inlined.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from elftools.common.exceptions import DWARFError, ELFError

from rr.dap.dwarf_info import dwarf_of


@dataclass(frozen=True)
class InlinedCall:
    start: int
    end: int
    depth: int           # 1 for a call inlined into a real function, 2 inside that, ...
    name: str            # the inlined function
    call_line: int       # where the caller calls it


class InlineScopes:
    """The inlined calls of an ELF, read one compilation unit at a time as pcs need them
    (found by the address ranges table; every unit when there is none)."""

    def __init__(self, dwarf) -> None:
        self._dwarf = dwarf
        self._units: dict[int | None, _Calls] = {}

    @classmethod
    def from_elf(cls, data: bytes) -> "InlineScopes":
        return cls(dwarf_of(data))

    def at(self, address: int) -> list[InlinedCall]:
        """The inlined calls holding ``address``, outermost first."""
        if self._dwarf is None:
            return []
        try:
            aranges = self._dwarf.get_aranges()
            offset = aranges.cu_offset_at_addr(address) if aranges is not None else None
            if aranges is not None and offset is None:
                return []
            calls = self._units.get(offset)
            if calls is None:
                units = [self._dwarf.get_CU_at(offset)] if offset is not None \
                    else self._dwarf.iter_CUs()
                found: list[InlinedCall] = []
                for unit in units:
                    _collect(self._dwarf, unit, unit.get_top_DIE(), 0, found)
                calls = self._units[offset] = _Calls(found)
            return calls.at(address)
        except (ELFError, DWARFError, ValueError, KeyError, AttributeError, IndexError):
            return []


class _Calls:
    def __init__(self, calls: list[InlinedCall]) -> None:
        self._calls = sorted(calls, key=lambda call: call.start)
        self._starts = [call.start for call in self._calls]
        self._longest = max((call.end - call.start for call in self._calls), default=0)

    def at(self, address: int) -> list[InlinedCall]:
        """The inlined calls holding ``address``, outermost first."""
        index = bisect.bisect_right(self._starts, address)
        found = []
        while index > 0:
            index -= 1
            call = self._calls[index]
            if address - call.start > self._longest:
                break
            if call.start <= address < call.end:
                found.append(call)
        return sorted(found, key=lambda call: call.depth)


def _collect(dwarf, unit, die, depth: int, calls: list[InlinedCall]) -> None:
    for child in die.iter_children():
        tag = child.tag
        if tag == "DW_TAG_inlined_subroutine":
            name = _name(child)
            line = child.attributes.get("DW_AT_call_line")
            for start, end in code_ranges(dwarf, unit, child):
                calls.append(InlinedCall(start, end, depth + 1, name,
                                         line.value if line is not None else 0))
            _collect(dwarf, unit, child, depth + 1, calls)
        elif tag in ("DW_TAG_subprogram", "DW_TAG_lexical_block"):
            _collect(dwarf, unit, child, depth, calls)


def _name(die) -> str:
    seen = 0
    while "DW_AT_name" not in die.attributes and seen < 4:
        origin = next((a for a in ("DW_AT_abstract_origin", "DW_AT_specification")
                       if a in die.attributes), None)
        if origin is None:
            return "??"
        die = die.get_DIE_from_attribute(origin)
        seen += 1
    value = die.attributes["DW_AT_name"].value if "DW_AT_name" in die.attributes else b"??"
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def code_ranges(dwarf, unit, die) -> list[tuple[int, int]]:
    """The [start, end) address ranges of a DIE's code (low/high pc, or a range list)."""
    attributes = die.attributes
    if "DW_AT_low_pc" in attributes and "DW_AT_high_pc" in attributes:
        low = attributes["DW_AT_low_pc"].value
        high = attributes["DW_AT_high_pc"]
        end = high.value if high.form == "DW_FORM_addr" else low + high.value
        return [(low, end)]
    if "DW_AT_ranges" not in attributes:
        return []
    lists = dwarf.range_lists()
    if lists is None:
        return []
    entries = lists.get_range_list_at_offset(attributes["DW_AT_ranges"].value, cu=unit)
    top = unit.get_top_DIE().attributes
    base = top["DW_AT_low_pc"].value if "DW_AT_low_pc" in top else 0
    ranges = []
    for entry in entries:
        if hasattr(entry, "base_address"):             # a base address selection entry
            base = entry.base_address
            continue
        absolute = getattr(entry, "is_absolute", False)
        start = entry.begin_offset if absolute else base + entry.begin_offset
        end = entry.end_offset if absolute else base + entry.end_offset
        if end > start:
            ranges.append((start, end))
    return ranges
