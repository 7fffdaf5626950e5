"""Numbers and addresses as users type them: 0x80200000, 1_000, list_push+0x1c, $sp-16.

An address expression is terms joined by + and -; a term is a number
(decimal, or hex with 0x), a guest symbol, or a register ($sp, $a0, $pc,
$sepc; a bare register name works too when no symbol has that name).

This is the one evaluator of every client that takes addresses as text: the
REPL's commands, gdb's `monitor` commands (rr/gdbstub/monitor.py) and the
Debug Adapter's `evaluate` (through the REPL). A client builds one with

    evaluator = Evaluator(symbols, register_reader(board.cpu))

and calls ``evaluator.address(text)`` for an address, or
``evaluator.span(address_text, length_text, default)`` for ADDR [LEN] (a
data symbol's length defaults to its size). Whatever cannot be read raises
ExpressionError, whose message is the one-line error to show.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

from rr.monitor.constants import FP_ALIAS, GPR_NAMES, REG_FP, SUPERVISOR_CSRS
from rr.repl.symbols import Symbol, SymbolTable

if TYPE_CHECKING:
    from rr.monitor.cpu import Cpu

# Every name a general register answers to: ABI names, x0..x31 and fp.
GPR_NUMBERS = {name: n for n, name in enumerate(GPR_NAMES)}
GPR_NUMBERS.update({f"x{n}": n for n in range(32)})
GPR_NUMBERS[FP_ALIAS] = REG_FP
REGISTER_NAMES = ["pc", "priv", *GPR_NAMES, FP_ALIAS]
CSR_NAMES = [name for name, _number in SUPERVISOR_CSRS]

_TERM = re.compile(r"\s*([+-])?\s*([^\s+-]+)\s*")


class ExpressionError(ValueError):
    """A number, symbol or register that cannot be understood (the message says which)."""


def parse_int(text: str, what: str = "number") -> int:
    """A decimal or 0x-hex integer, underscores allowed; negative with a leading '-'."""
    cleaned = text.strip().replace("_", "")
    try:
        return int(cleaned, 0) if cleaned.lower().startswith(("0x", "-0x", "+0x")) \
            else int(cleaned, 10)
    except ValueError:
        raise ExpressionError(f"{text!r}: not a valid {what} (examples: 1000, 0x3e8)") from None


def parse_count(text: str, what: str = "count") -> int:
    value = parse_int(text, what)
    if value < 0:
        raise ExpressionError(f"{what} {text} is negative")
    return value


def register_reader(cpu: "Cpu") -> Callable[[str], int]:
    """Reads the registers expressions name ($pc, $priv, general registers by any name, the
    S-mode CSRs) from the hart as it is when called; KeyError for any other name."""
    def read(name: str) -> int:
        if name == "pc":
            return cpu.pc
        if name == "priv":
            return cpu.priv
        if name in GPR_NUMBERS:
            return cpu.x(GPR_NUMBERS[name])
        if name in CSR_NAMES:
            return cpu.csr(name)
        raise KeyError(name)
    return read


def terms(text: str) -> list[tuple[str | None, str]]:
    """An address expression's terms, each with its sign ('+', '-' or None)."""
    text = text.strip()
    if not text:
        raise ExpressionError("an address is missing")
    found, position = [], 0
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"cannot read the address {text!r}")
        sign, term = match.group(1), match.group(2)
        if position and sign is None:
            raise ExpressionError(f"cannot read the address {text!r}")
        found.append((sign, term))
        position = match.end()
    return found


class Evaluator:
    """Evaluates address expressions against the symbols and the current registers."""

    def __init__(self, symbols: SymbolTable, register: Callable[[str], int]) -> None:
        self.symbols = symbols
        self.register = register          # value of a register or CSR by name

    def address(self, text: str) -> int:
        total = 0
        for sign, term in terms(text):
            value = self.term(term)
            total = total - value if sign == "-" else total + value
        return total & ((1 << 64) - 1)

    def symbols_named(self, text: str) -> list[Symbol]:
        """The symbols an address expression names (what evaluating it elsewhere, with
        other registers, needs of the symbol table)."""
        found = (self.symbols.get(term) for _, term in terms(text))
        return [symbol for symbol in found if symbol is not None]

    def span(self, address_text: str, length_text: str | None, default: int) -> tuple[int, int]:
        """ADDR [LEN] as (address, length): without LEN a data symbol (``panic_cpu``) spans
        its own size, anything else ``default`` bytes."""
        address = self.address(address_text)
        if length_text is not None:
            length = parse_count(length_text, "length")
            if length == 0:
                raise ExpressionError("a length of 0 bytes watches nothing")
            return address, length
        symbol = self.symbols.get(address_text.strip())
        sized = symbol is not None and symbol.kind == "object" and symbol.size
        return address, symbol.size if sized else default

    def term(self, term: str) -> int:
        if term[0].isdigit():
            return parse_int(term, "number")
        if term.startswith("$"):
            return self._register(term[1:], term)
        symbol = self.symbols.get(term)
        if symbol is not None:
            return symbol.address
        if term in GPR_NUMBERS or term == "pc" or term in CSR_NAMES:
            return self._register(term, term)
        hint = "" if self.symbols else " (no symbols loaded: use --symbols ELF)"
        raise ExpressionError(f"no symbol named {term!r}{hint}")

    def _register(self, name: str, shown: str) -> int:
        if name in GPR_NUMBERS or name in ("pc", "priv") or name in CSR_NAMES:
            return self.register(name)
        raise ExpressionError(f"unknown register {shown!r}")
