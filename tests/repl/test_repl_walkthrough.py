"""The acceptance walk-through: the demo's crash found from the REPL alone (README section).

goto end, where (a load page fault in list_pop on LIST_POISON), when shared_list
(the racing writes), goto the stale push, disas and where show list_push's
store, mem and last-write show the window the timer interrupt opened.
"""

from __future__ import annotations

import re

import pytest

from repl_helpers import POISON, InProcess, crashing_demo, write_rows


@pytest.fixture(scope="module")
def repl(tmp_path_factory):
    return InProcess(crashing_demo(tmp_path_factory).trace)


def test_the_crash_found_from_the_repl(repl):
    out = repl.run("goto end")
    assert out.startswith("end of recorded history: the guest exited (fail, code 1, exit status 1)")

    out = repl.run("where")
    assert re.search(r"^trap    in a trap handler, entered at instruction \d+: load page fault", out,
                     re.M)
    assert re.search(rf"sepc 0x[0-9a-f]+ <list_pop\+0x[0-9a-f]+>  stval {POISON:#x}", out)

    out = repl.run("when shared_list")
    heads = [row for row in write_rows(out) if row.where == "shared_list"]
    assert heads[-1].new == POISON and heads[-1].function.startswith("list_pop")
    pushes = [row for row in heads if row.function.startswith("list_push")]
    pops = [row for row in heads if row.function.startswith("list_pop")]
    assert pushes and pops

    # The racing write: a push that links its node to a head that is no longer the head
    # (node->next differs from the value the store replaces). Check from the crash back.
    for push in reversed(pushes):
        repl.run(f"goto {push.icount}")
        next_pointer = _le64(repl.run(f"mem {push.new:#x} 8"))
        if next_pointer != push.old:
            bad, stale = push, next_pointer
            break
    else:
        pytest.fail("no list_push linked its node to a stale head")

    # The node it linked to had been popped before the write: the race.
    assert any(pop.old == stale and pop.icount < bad.icount for pop in pops)

    out = repl.run("where")
    assert re.search(rf"^icount  {bad.icount} of", out, re.M)
    assert re.search(r"^pc      0x[0-9a-f]+ <list_push\+0x[0-9a-f]+>  c?\.?sd ", out, re.M)
    assert "not in a trap handler" in out
    out = repl.run("disas")
    marked = [line for line in out.splitlines() if line.startswith("=> ")]
    assert len(marked) == 1 and re.search(r"\bc?\.?sd\b", marked[0])
    assert out.splitlines()[0] == "<list_push>:"
    assert repl.prompt().startswith(f"[{bad.icount} list_push+0x")

    # When was node->next written? In the same list_push, before its stale store; the
    # node it points to was popped inside that push's window. The window opens at the
    # push's read of the head, so the timer may have fired just before or just after
    # this store of what it read: the pop lies between the store and the stale write
    # or (when the preemption came first) just before the store.
    out = repl.run(f"last-write {bad.new:#x} 8")
    (link,) = write_rows(out)
    assert link.function.startswith("list_push") and link.new == stale
    popped = max(pop.icount for pop in pops if pop.old == stale and pop.icount < bad.icount)
    assert link.icount < bad.icount and popped < bad.icount


def _le64(mem_output: str) -> int:
    """The first 8 bytes of a `mem` dump as a little-endian number."""
    match = re.search(r"^0x[0-9a-f]{16}  ((?:[0-9a-f]{2} ){7}[0-9a-f]{2})", mem_output, re.M)
    return int.from_bytes(bytes.fromhex(match.group(1).replace(" ", "")), "little")


def test_rnext_and_next_round_trip_over_a_task_switch(repl):
    """rnext from just after an sret (back in a task) finds the instruction the interrupt
    came after, in that task's frame, and next from there comes back through the handler."""
    sret = min(repl.debugger.sret_sites())
    repl.run("goto 60000")
    repl.run(f"break {sret:#x}")
    repl.run("continue")
    out = repl.run("step")
    resumed = int(re.match(r"icount (\d+)", out).group(1))
    function = re.search(r"<([a-z_]+)", out).group(1)
    sp, resumed_pc = repl.debugger.sp, repl.debugger.pc
    repl.run("delete")
    out = repl.run("rnext")
    back = int(re.match(r"icount (\d+)", out).group(1))
    assert back < resumed - 1 and f"<{function}" in out and repl.debugger.sp == sp
    out = repl.run("next")
    # Back at the instruction the task resumed at, in the same frame: either just before
    # the interrupt is taken (it came between two instructions) or after its sret.
    assert repl.debugger.pc == resumed_pc and repl.debugger.sp == sp
    assert int(re.match(r"icount (\d+)", out).group(1)) in (back + 1, resumed)
