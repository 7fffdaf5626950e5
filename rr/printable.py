"""Text from a trace or a guest made safe to print on a terminal.

A trace names things (its command line, the rrvm version, the image, how the
run ended) with strings anyone could have written. Printed raw, an ESC
sequence in them retitles or clears the terminal and a CR or LF forges
lines. ``printable`` escapes every character that is not printable, the way
Python's repr does, and leaves the rest alone; ``clipped`` also bounds the
length, for one-line messages.
"""

from __future__ import annotations

# One error line: long enough for any real message, short enough to read.
MAX_LINE = 1000


def printable(text: str) -> str:
    """``text`` with ESC, CR, LF, other control and format characters shown escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)


def clipped(text: str, limit: int = MAX_LINE) -> str:
    """``printable(text)``, cut to ``limit`` characters with a note of how long it was."""
    safe = printable(text)
    if len(safe) <= limit:
        return safe
    return f"{safe[:limit]}... ({len(safe)} characters in all)"


def _escaped(ch: str) -> str:
    code = ord(ch)
    if ch in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def byte_size(count: int) -> str:
    """'512 B', '3.5 KiB', '1.2 GiB': a size for people."""
    if count < 1024:
        return f"{count} B"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}"
    return f"{count:.1f} GiB"
