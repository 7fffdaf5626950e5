"""Platform-Level Interrupt Controller (``sifive,plic-1.0.0``) as QEMU virt lays it out.

Devices drive level-triggered source lines; the PLIC turns them into one
output per context (context 0: hart 0 M-mode, context 1: hart 0 S-mode) that
the board applies to the hart. Semantics follow QEMU's sifive_plic:

* a source is pending while its line is high and it is not in service;
  lowering the line withdraws the request;
* a claim returns the enabled pending source of highest priority above the
  context's threshold (ties go to the lowest id), clears its pending bit and
  puts it in service, so it cannot pend again until completed;
* a completion takes the source out of service; if its line is still high it
  pends again at once (this is what makes level triggering work);
* like QEMU 7.2, a completion is accepted whether or not the source is
  enabled for the completing context (the spec would ignore it; being
  lenient can only help guests that disable before completing).

Source sets are kept as Python integers used as bitmasks; snapshots store them
as lists of 32-bit words, the way the guest sees them, so they stay within
msgpack's integer range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from rr.monitor.constants import (
    PLIC_CLAIM_OFFSET, PLIC_CONTEXT_BASE, PLIC_CONTEXT_STRIDE, PLIC_ENABLE_BASE,
    PLIC_ENABLE_STRIDE, PLIC_PENDING_BASE, PLIC_PRIORITY_BASE, PLIC_PRIORITY_MASK,
    PLIC_SIZE, PLIC_THRESHOLD_OFFSET,
)
from rr.monitor.devices.device import IrqLine, MmioDevice

_WORD_BITS = 32
_WORD_MASK = 0xFFFF_FFFF


def _mask_to_words(mask: int, nwords: int) -> list[int]:
    return [(mask >> (_WORD_BITS * i)) & _WORD_MASK for i in range(nwords)]


def _words_to_mask(words: Sequence[int]) -> int:
    mask = 0
    for i, word in enumerate(words):
        mask |= (word & _WORD_MASK) << (_WORD_BITS * i)
    return mask


@dataclass(frozen=True)
class PlicSourceLine:
    """The IrqLine a device drives: one PLIC source."""

    plic: "Plic"
    source: int

    def set_level(self, level: bool) -> None:
        self.plic.set_source_level(self.source, level)


class Plic(MmioDevice):
    """A PLIC with ``num_sources`` sources (0 included, never used) and ``num_contexts`` contexts."""

    name = "plic"

    def __init__(self, base: int, num_sources: int, num_contexts: int,
                 context_lines: Sequence[IrqLine], size: int = PLIC_SIZE) -> None:
        super().__init__(base, size)
        if len(context_lines) != num_contexts:
            raise ValueError(f"PLIC needs {num_contexts} context lines, got {len(context_lines)}")
        self.num_sources = num_sources
        self.num_contexts = num_contexts
        self._context_lines = list(context_lines)
        self._nwords = (num_sources + _WORD_BITS - 1) // _WORD_BITS
        # Source 0 means "no interrupt" and never pends or enables.
        self._valid = ((1 << num_sources) - 1) & ~1
        self.priority = [0] * num_sources
        self.levels = 0
        self.pending = 0
        self.claimed = 0
        self.enable = [0] * num_contexts
        self.threshold = [0] * num_contexts
        self._outputs = [False] * num_contexts

    # ------------------------------------------------------------------ board API

    def source_line(self, source: int) -> PlicSourceLine:
        """The line a device at ``source`` drives."""
        if not 1 <= source < self.num_sources:
            raise ValueError(f"PLIC source {source} out of range 1..{self.num_sources - 1}")
        return PlicSourceLine(self, source)

    def set_source_level(self, source: int, level: bool) -> None:
        """A device raised or lowered its line."""
        bit = 1 << source
        if not bit & self._valid:
            return
        if level:
            self.levels |= bit
            if not self.claimed & bit:
                self.pending |= bit
        else:
            self.levels &= ~bit
            self.pending &= ~bit
        self._update_outputs()

    def context_level(self, context: int) -> bool:
        """The level of a context's output (e.g. SEIP for context 1)."""
        return self._outputs[context]

    # ------------------------------------------------------------------ MMIO

    def read(self, offset: int, size: int) -> int:
        """32-bit registers only; other widths and misaligned reads return 0 without side effects."""
        if size != 4 or offset & 3:
            return 0
        if offset < PLIC_PENDING_BASE:
            return self._read_priority(offset)
        if offset < PLIC_ENABLE_BASE:
            return self._read_pending(offset)
        if offset < PLIC_CONTEXT_BASE:
            return self._read_enable(offset)
        return self._read_context(offset)

    def write(self, offset: int, size: int, value: int) -> None:
        """32-bit registers only; other widths and misaligned writes are ignored."""
        if size != 4 or offset & 3:
            return
        value &= _WORD_MASK
        if offset < PLIC_PENDING_BASE:
            self._write_priority(offset, value)
        elif offset < PLIC_ENABLE_BASE:
            pass  # pending bits are read-only
        elif offset < PLIC_CONTEXT_BASE:
            self._write_enable(offset, value)
        else:
            self._write_context(offset, value)

    # ------------------------------------------------------------------ register decoding

    def _source_at(self, offset: int) -> int | None:
        source = (offset - PLIC_PRIORITY_BASE) // 4
        return source if 1 <= source < self.num_sources else None

    def _read_priority(self, offset: int) -> int:
        source = self._source_at(offset)
        return self.priority[source] if source is not None else 0

    def _write_priority(self, offset: int, value: int) -> None:
        source = self._source_at(offset)
        if source is not None:
            self.priority[source] = value & PLIC_PRIORITY_MASK
            self._update_outputs()

    def _read_pending(self, offset: int) -> int:
        word = (offset - PLIC_PENDING_BASE) // 4
        return (self.pending >> (_WORD_BITS * word)) & _WORD_MASK if word < self._nwords else 0

    def _enable_slot(self, offset: int) -> tuple[int, int] | None:
        """(context, word) of an enable register, or None outside the implemented ones."""
        context, rest = divmod(offset - PLIC_ENABLE_BASE, PLIC_ENABLE_STRIDE)
        word = rest // 4
        if context < self.num_contexts and word < self._nwords:
            return context, word
        return None

    def _read_enable(self, offset: int) -> int:
        slot = self._enable_slot(offset)
        if slot is None:
            return 0
        context, word = slot
        return (self.enable[context] >> (_WORD_BITS * word)) & _WORD_MASK

    def _write_enable(self, offset: int, value: int) -> None:
        slot = self._enable_slot(offset)
        if slot is None:
            return
        context, word = slot
        shift = _WORD_BITS * word
        cleared = self.enable[context] & ~(_WORD_MASK << shift)
        self.enable[context] = (cleared | (value << shift)) & self._valid
        self._update_outputs()

    def _context_slot(self, offset: int) -> tuple[int, int] | None:
        context, reg = divmod(offset - PLIC_CONTEXT_BASE, PLIC_CONTEXT_STRIDE)
        return (context, reg) if context < self.num_contexts else None

    def _read_context(self, offset: int) -> int:
        slot = self._context_slot(offset)
        if slot is None:
            return 0
        context, reg = slot
        if reg == PLIC_THRESHOLD_OFFSET:
            return self.threshold[context]
        if reg == PLIC_CLAIM_OFFSET:
            return self.claim(context)
        return 0

    def _write_context(self, offset: int, value: int) -> None:
        slot = self._context_slot(offset)
        if slot is None:
            return
        context, reg = slot
        if reg == PLIC_THRESHOLD_OFFSET:
            self.threshold[context] = value & PLIC_PRIORITY_MASK
            self._update_outputs()
        elif reg == PLIC_CLAIM_OFFSET:
            self.complete(context, value)

    # ------------------------------------------------------------------ claim / complete

    def claim(self, context: int) -> int:
        """Claim the best interrupt for ``context``; 0 when there is none."""
        source = self._best_source(context)
        if source:
            bit = 1 << source
            self.pending &= ~bit
            self.claimed |= bit
            self._update_outputs()
        return source

    def complete(self, context: int, source: int) -> None:
        """End service of ``source``; a line still high pends again."""
        if not 1 <= source < self.num_sources:
            return
        bit = 1 << source
        self.claimed &= ~bit
        if self.levels & bit:
            self.pending |= bit
        self._update_outputs()

    def _best_source(self, context: int) -> int:
        """Highest priority above threshold among pending enabled sources; ties to the lowest id."""
        candidates = self.pending & self.enable[context]
        best, best_priority = 0, self.threshold[context]
        while candidates:
            low = candidates & -candidates
            source = low.bit_length() - 1
            if self.priority[source] > best_priority:
                best, best_priority = source, self.priority[source]
            candidates ^= low
        return best

    def _update_outputs(self) -> None:
        """Drive each context line whose level changed."""
        for context in range(self.num_contexts):
            level = self._best_source(context) != 0
            if level != self._outputs[context]:
                self._outputs[context] = level
                self._context_lines[context].set_level(level)

    # ------------------------------------------------------------------ snapshots

    def get_state(self) -> dict[str, Any]:
        words = self._nwords
        return {
            "priority": list(self.priority),
            "levels": _mask_to_words(self.levels, words),
            "pending": _mask_to_words(self.pending, words),
            "claimed": _mask_to_words(self.claimed, words),
            "enable": [_mask_to_words(mask, words) for mask in self.enable],
            "threshold": list(self.threshold),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore; outputs are recomputed without driving the context lines.

        The hart's interrupt-pending bits come back with the CPU snapshot,
        so re-driving the lines here would only queue spurious changes.
        """
        self.priority = list(state["priority"])
        self.levels = _words_to_mask(state["levels"])
        self.pending = _words_to_mask(state["pending"])
        self.claimed = _words_to_mask(state["claimed"])
        self.enable = [_words_to_mask(words) for words in state["enable"]]
        self.threshold = list(state["threshold"])
        self._outputs = [self._best_source(ctx) != 0 for ctx in range(self.num_contexts)]
