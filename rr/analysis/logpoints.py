"""Retroactive logpoints: every time the pc reached an address over the whole history, with
the values of some expressions there.

The history is replayed once from its start with a code hook at the address
(Timeline.all_hits); the hook evaluates the expressions with the registers
and memory as they are when the instruction is about to execute, so no hit
costs a seek. The position is kept: a logpoint is a question, not a
movement.

An expression is what the REPL's `print` takes (numbers, symbols,
$registers, + and -), whose value is printed; a data symbol alone stands for
its contents (its size when 1, 2, 4 or 8 bytes, else 8 bytes), and ``*EXPR``
for the 8 bytes at EXPR.

The expressions go to the hook as an ``ExpressionProbe``: their text and the
symbols they name, plain data evaluated where the hook runs. So with a
trace's index and several jobs the history is searched by segment side by
side (rr/replay/segments.py), each worker evaluating the expressions at its
hits, and the report is the same as from one replay.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from rr.analysis.subject import Subject
from rr.monitor.guest_memory import GuestMemory
from rr.monitor.mmu import PageFault
from rr.repl.expressions import Evaluator, ExpressionError, register_reader
from rr.repl.symbols import Symbol, SymbolTable

if TYPE_CHECKING:
    from rr.monitor.board import Board

WORD = 8
VALUE_SIZES = (1, 2, 4, 8)


class LogpointError(ExpressionError):
    """A logpoint asked wrongly (the message is the one line the user sees)."""


@dataclass(frozen=True)
class LogExpression:
    text: str                    # as the user typed it
    address_text: str            # what the evaluator reads
    size: int                    # bytes read at the address; 0: the value itself

    def evaluate(self, evaluator: Evaluator, memory: GuestMemory) -> int | None:
        """The value now; None when its memory cannot be read."""
        value = evaluator.address(self.address_text)
        if not self.size:
            return value
        try:
            data = memory.read(value, self.size)
        except PageFault:
            return None
        return int.from_bytes(data, "little")


@dataclass(frozen=True)
class ExpressionProbe:
    """A logpoint's expressions, read at each hit (a hits.Probe): the expressions and
    the symbols they name, which is all a worker needs to evaluate them."""

    expressions: tuple[LogExpression, ...]
    symbols: tuple[Symbol, ...]

    @cached_property
    def _table(self) -> SymbolTable:
        return SymbolTable(self.symbols)

    def read(self, board: Board) -> tuple[int | None, ...]:
        """The values at the hit, with the registers of the hart that hit."""
        evaluator = Evaluator(self._table, register_reader(board.cpu))
        return tuple(item.evaluate(evaluator, board.memory) for item in self.expressions)


@dataclass(frozen=True)
class LogHit:
    icount: int                  # the instruction at the address, before it executes
    pc: int
    values: tuple[int | None, ...]


@dataclass(frozen=True)
class LogpointReport:
    location: str                # as the user typed it
    address: int
    label: str
    expressions: tuple[str, ...]
    hits: tuple[LogHit, ...]

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "address": self.address, "symbol": self.label,
                "expressions": list(self.expressions),
                "hits": [{"icount": hit.icount, "pc": hit.pc,
                          "values": dict(zip(self.expressions, hit.values))}
                         for hit in self.hits]}

    def text(self) -> str:
        where = f"{self.label} ({self.address:#x})" if self.label else f"{self.address:#x}"
        count = len(self.hits)
        lines = [f"{count} hit{'s' if count != 1 else ''} at {where} in the whole history"
                 + (":" if self.hits else "")]
        if self.hits:
            rows = [["icount", "pc", *self.expressions]]
            rows += [[str(hit.icount), f"{hit.pc:#x}", *map(_shown, hit.values)]
                     for hit in self.hits]
            widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
            for row in rows:
                cells = [cell.rjust(widths[0]) if i == 0 else cell.ljust(widths[i])
                         for i, cell in enumerate(row)]
                lines.append("  " + "  ".join(cells).rstrip())
        return "\n".join(lines)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["icount", "pc", *self.expressions])
        for hit in self.hits:
            writer.writerow([hit.icount, f"{hit.pc:#x}", *map(_shown, hit.values)])
        return out.getvalue()


def _shown(value: int | None) -> str:
    return "?" if value is None else f"{value:#x}"


def code_address(subject: Subject, text: str) -> int:
    """Where a logpoint stops: an address expression, or a function's entry."""
    symbol = subject.symbols.get(text.strip())
    if symbol is not None and symbol.kind == "object":
        raise LogpointError(f"{text} is a data symbol, not code (trace takes an address or "
                            "a function)")
    return subject.evaluator.address(text)


def expression(subject: Subject, text: str) -> LogExpression:
    """A logpoint expression, checked now (an unknown symbol or register fails here)."""
    text = text.strip()
    if text.startswith("*"):
        parsed = LogExpression(text, text[1:], WORD)
    else:
        symbol = subject.symbols.get(text)
        if symbol is not None and symbol.kind == "object":
            parsed = LogExpression(text, text, symbol.size if symbol.size in VALUE_SIZES
                                   else WORD)
        else:
            parsed = LogExpression(text, text, 0)
    subject.evaluator.address(parsed.address_text)
    return parsed


def logpoint(subject: Subject, location: str, expressions: list[str]) -> LogpointReport:
    """Every time the pc reached ``location`` over the whole history, with the values of
    ``expressions`` there; the position is kept."""
    address = code_address(subject, location)
    parsed = tuple(expression(subject, text) for text in expressions)
    named = {symbol.name: symbol for item in parsed
             for symbol in subject.evaluator.symbols_named(item.address_text)}
    probe = ExpressionProbe(parsed, tuple(named.values()))
    hits = subject.timeline.all_hits([address], probe=probe, cancel=subject.cancel)
    return LogpointReport(location, address, subject.label(address),
                          tuple(item.text for item in parsed),
                          tuple(LogHit(hit.icount, hit.address, hit.values) for hit in hits))
