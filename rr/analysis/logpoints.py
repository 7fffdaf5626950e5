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
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from rr.analysis.subject import Subject
from rr.monitor.mmu import PageFault
from rr.replay.hits import Hit
from rr.repl.expressions import ExpressionError

WORD = 8
VALUE_SIZES = (1, 2, 4, 8)


class LogpointError(ExpressionError):
    """A logpoint asked wrongly (the message is the one line the user sees)."""


@dataclass(frozen=True)
class LogExpression:
    text: str                    # as the user typed it
    address_text: str            # what the evaluator reads
    size: int                    # bytes read at the address; 0: the value itself

    def evaluate(self, subject: Subject) -> int | None:
        """The value now; None when its memory cannot be read."""
        value = subject.evaluator.address(self.address_text)
        if not self.size:
            return value
        try:
            data = subject.timeline.board.memory.read(value, self.size)
        except PageFault:
            return None
        return int.from_bytes(data, "little")


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
    parsed = [expression(subject, text) for text in expressions]
    values: dict[int, tuple[int | None, ...]] = {}

    def note(hit: Hit) -> bool:
        values[hit.icount] = tuple(item.evaluate(subject) for item in parsed)
        return True

    hits = subject.timeline.all_hits([address], condition=note, cancel=subject.cancel)
    return LogpointReport(location, address, subject.label(address),
                          tuple(item.text for item in parsed),
                          tuple(LogHit(hit.icount, hit.address, values[hit.icount])
                                for hit in hits))
