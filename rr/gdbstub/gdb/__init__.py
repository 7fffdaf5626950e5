"""Scripts for gdb's own Python, shipped with rrvm; gdb loads them with `source`.

They run inside gdb, not in rrvm, so they import only gdb's modules and
their neighbours here: trap_frames.py, which rrvm imports too (`rrvm dap`
unwinds trap frames with it). Where an installed copy lives:

    python3 -c "from rr.gdbstub.gdb import TRAP_UNWINDER; print(TRAP_UNWINDER)"
"""

from pathlib import Path

TRAP_UNWINDER = Path(__file__).with_name("trap_unwinder.py")
