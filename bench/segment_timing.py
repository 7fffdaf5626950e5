"""A segment search that also says how much CPU time its worker spent (bench/index.py).

On a machine busy with other work, wall times say little about what a second
worker gives: the CPU time each worker spends on its share does.
"""

from __future__ import annotations

import os
import time

from rr.replay.segments import SegmentTask, search_segment


def timed_search(task: SegmentTask) -> tuple[int, float]:
    """(the worker's pid, CPU seconds it spent on the segment)."""
    start = time.process_time()
    search_segment(task)
    return os.getpid(), time.process_time() - start
