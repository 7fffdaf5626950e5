"""Where a trace's checkpoint index lives: ``TRACE.idx``, next to the trace.

Its own module, importing nothing of rrvm's, so that a command can look for
the index (and start the workers that will search it, rr/replay/worker_pool.py)
before it has loaded the engine.
"""

from __future__ import annotations

import os
from pathlib import Path

INDEX_SUFFIX = ".idx"


def index_path(trace: str | os.PathLike[str]) -> Path:
    """Where a trace's index lives: next to it, ``TRACE.idx``."""
    trace = Path(trace)
    return trace.with_name(trace.name + INDEX_SUFFIX)
