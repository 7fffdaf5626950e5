"""The DWARF of the guest's ELF, read once for every view the adapter builds on it
(source lines, call frames, inlined calls, locals): a kernel's DWARF takes seconds
to open, and each view used to open its own."""

from __future__ import annotations

import io
from functools import lru_cache

from elftools.common.exceptions import DWARFError, ELFError
from elftools.dwarf.dwarfinfo import DWARFInfo
from elftools.elf.elffile import ELFFile

from rr.repl.symbols import ELF_MAGIC

# What pyelftools raises on a damaged or unexpected ELF or DWARF section.
DWARF_ERRORS = (ELFError, DWARFError, ValueError, KeyError, IndexError, AttributeError)


@lru_cache(maxsize=1)
def dwarf_of(data: bytes) -> DWARFInfo | None:
    """The DWARF (debug info or .eh_frame) of the ELF in ``data``; None when ``data``
    is no ELF, carries none, or cannot be read."""
    if not data.startswith(ELF_MAGIC):
        return None
    try:
        elf = ELFFile(io.BytesIO(data))
        return elf.get_dwarf_info() if elf.has_dwarf_info() else None
    except DWARF_ERRORS:
        return None
