"""Output of the REPL: styled fragments, in colour on a terminal and plain otherwise.

Commands build lines from fragments, each a string or a (style, string)
pair; a ``Printer`` prints them with prompt-toolkit's formatted text when
colour is on, and as the bare text when it is off (piped output, ``-c``,
``NO_COLOR``, a dumb terminal). The text is the same either way.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable, TextIO, Union

from rr.printable import clipped

if TYPE_CHECKING:
    from prompt_toolkit.styles import Style

Fragment = Union[str, tuple[str, str]]

STYLE_CLASSES = {
    "addr": "ansicyan",
    "sym": "ansigreen",
    "reg": "ansiyellow",
    "num": "",
    "head": "bold",
    "mark": "ansimagenta bold",
    "dim": "ansibrightblack",
    "err": "ansired",
    "changed": "ansired bold",
    "hit": "ansiyellow bold",
    "prompt": "ansiblue",
}


@lru_cache(maxsize=None)
def style() -> Style:
    """The classes' prompt-toolkit style (imported only for colour or the prompt: plain
    output, as with ``-c``, starts quicker without it)."""
    from prompt_toolkit.styles import Style
    return Style.from_dict(STYLE_CLASSES)


def colour_wanted(stream: TextIO) -> bool:
    """Colour only on a terminal that is not 'dumb', and never when NO_COLOR is set."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM", "") in ("", "dumb"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Printer:
    def __init__(self, colour: bool = False, stream: TextIO | None = None) -> None:
        self.colour = colour
        self.stream = stream
        self._mid_line = False          # guest output left a line unfinished

    @property
    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout

    def guest_output(self, data: bytes) -> None:
        """A live guest's console bytes, as it prints them for the first time."""
        text = data.decode("utf-8", "replace").replace("\r", "")
        if text:
            self._out.write(text)
            self._out.flush()
            self._mid_line = not text.endswith("\n")

    def line(self, *fragments: Fragment) -> None:
        if self._mid_line:
            self._out.write("\n")
            self._mid_line = False
        if self.colour:
            from prompt_toolkit import print_formatted_text
            from prompt_toolkit.formatted_text import FormattedText
            parts = [(f"class:{f[0]}" if f[0] else "", f[1]) if isinstance(f, tuple) else ("", f)
                     for f in fragments]
            print_formatted_text(FormattedText(parts), style=style(), file=self._out)
        else:
            self._out.write(plain(fragments) + "\n")
            self._out.flush()

    def lines(self, rows: Iterable[Iterable[Fragment]]) -> None:
        for row in rows:
            self.line(*row)

    def text(self, text: str) -> None:
        """A block of plain text (already formatted)."""
        for row in text.splitlines() or [""]:
            self.line(row)

    def error(self, message: str) -> None:
        """One line, escaped and cut: errors quote traces and guests."""
        self.line(("err", clipped(message)))


def plain(fragments: Iterable[Fragment]) -> str:
    return "".join(f[1] if isinstance(f, tuple) else f for f in fragments)


# --- value formatting ----------------------------------------------------------------

def address_fragments(address: int, label: str) -> list[Fragment]:
    """'0x80200818 <list_pop+0xe>' as fragments (no label: the address alone)."""
    parts: list[Fragment] = [("addr", f"{address:#x}")]
    if label:
        parts += [" ", ("sym", f"<{label}>")]
    return parts


def hexdump_rows(address: int, data: bytes, width: int = 16) -> list[list[Fragment]]:
    """Rows of 'address  hex bytes  |ascii|', ``width`` bytes a row."""
    rows = []
    for offset in range(0, len(data), width):
        chunk = data[offset:offset + width]
        groups = [" ".join(f"{b:02x}" for b in chunk[i:i + 8]) for i in range(0, width, 8)]
        hexpart = "  ".join(groups)
        pad = 3 * width + (width // 8 - 1) - 1
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        rows.append([("addr", f"{address + offset:#018x}"), "  ", f"{hexpart:<{pad}}", "  ",
                     ("dim", "|"), text, ("dim", "|")])
    return rows


def table(rows: list[list], align: str = "", gap: str = "  ") -> list[list[Fragment]]:
    """Columns padded to their widest cell; ``align`` has one of '<' '>' per column."""
    if not rows:
        return []
    text = [[plain(_cell(cell)) for cell in row] for row in rows]
    columns = max(map(len, rows))
    widths = [max((len(row[i]) for row in text if i < len(row)), default=0) for i in range(columns)]
    result = []
    for row, texts in zip(rows, text):
        while len(row) > 1 and not texts[len(row) - 1]:
            row = row[:-1]                 # no trailing gap for empty last cells
        out: list[Fragment] = []
        for i, (cell, cell_text) in enumerate(zip(row, texts)):
            pad = " " * (widths[i] - len(cell_text))
            right = i < len(align) and align[i] == ">"
            last = i == len(row) - 1
            if i:
                out.append(gap)
            cell = _cell(cell)
            out += [pad, *cell] if right else (cell if last else [*cell, pad])
        result.append(out)
    return result


def _cell(cell) -> list[Fragment]:
    """A table cell: a string, a (style, string) pair, or a list of fragments."""
    return list(cell) if isinstance(cell, list) else [cell]
