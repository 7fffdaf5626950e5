"""The guest programs shipped with rrvm (built from guests/ in the source tree)."""

from __future__ import annotations

from pathlib import Path

from rr.errors import ImageError

GUEST_DIR = Path(__file__).resolve().parent.parent / "guests" / "bin"
DEMO = "demo"


def bundled_guest(name: str) -> Path:
    path = GUEST_DIR / f"{name}.elf"
    if not path.is_file():
        raise ImageError(f"bundled guest '{name}' not found at {path} "
                         "(build it with 'make -C guests')")
    return path
