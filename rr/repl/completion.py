"""Tab completion: command names, then each command's arguments (symbols, registers, keywords)."""

from __future__ import annotations

import re
from typing import Iterable

from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document

from rr.repl.commands import all_names, lookup
from rr.repl.expressions import CSR_NAMES, REGISTER_NAMES
from rr.repl.symbols import SymbolTable

_LAST_TERM = re.compile(r"[^+\-\s]*$")


class ReplCompleter(Completer):
    def __init__(self, symbols: SymbolTable) -> None:
        self.symbols = symbols
        self._symbol_names = symbols.names()

    def get_completions(self, document: Document, complete_event) -> Iterable[Completion]:
        text = document.text_before_cursor.lstrip()
        words = text.split()
        if not words or (len(words) == 1 and not text.endswith(" ")):
            yield from _matching(all_names(), words[0] if words else "")
            return
        cmd = lookup(words[0])
        if cmd is None:
            return
        current = "" if text.endswith(" ") else words[-1]
        term = _LAST_TERM.search(current).group(0)
        candidates: list[str] = list(cmd.words)
        registers = [*REGISTER_NAMES, *CSR_NAMES]
        if cmd.complete == "symbols":
            if term.startswith("$"):
                candidates = ["$" + name for name in registers]
            else:
                candidates += self._symbol_names
        elif cmd.complete == "registers":
            candidates = registers
        elif cmd.complete == "commands":
            candidates = all_names()
        yield from _matching(candidates, term)


def _matching(candidates: Iterable[str], prefix: str) -> Iterable[Completion]:
    for candidate in sorted(set(candidates)):
        if candidate.startswith(prefix):
            yield Completion(candidate, start_position=-len(prefix))
