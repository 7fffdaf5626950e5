"""What a command does when its reader goes away (`rrvm info T | head`): nothing more."""

from __future__ import annotations

import os
import sys


def silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is
    quiet instead of a second BrokenPipeError on the way out."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
