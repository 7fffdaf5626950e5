"""The REPL's analyses over the whole history: `trace` (retroactive logpoints) and `origin`
(where a value came from). The work is rr.analysis's; this only parses and prints."""

from __future__ import annotations

from rr.analysis.diff import diff
from rr.analysis.logpoints import logpoint
from rr.analysis.origin import DEFAULT_DEPTH, check_depth, origin
from rr.analysis.subject import Subject, open_trace
from rr.repl.commands import CommandError, Repl, command
from rr.repl.expressions import parse_count

TRACE_USAGE = "trace [--csv] ADDR|FUNCTION [EXPR...]"
DIFF_USAGE = "diff OTHER.rrt"
ORIGIN_USAGE = "origin [--depth N] ADDR|$REG [LEN]"


def subject(repl: Repl) -> Subject:
    debugger = repl.debugger
    return Subject(debugger.timeline, debugger.symbols, debugger.cancellation)


@command("trace", "logpoint", usage=TRACE_USAGE, complete="symbols", words=("--csv",),
         summary="every time the pc reached ADDR over the whole trace, with values there",
         details="""
Replays the whole trace once with a code hook at ADDR (a function: its entry)
and prints each hit's icount and pc with the values of the expressions just
before the instruction executes: $registers, numbers and symbols with + and -
(their value), a data symbol alone (its contents), *EXPR (the 8 bytes at
EXPR). The position is kept. --csv prints comma-separated values instead.""")
def _trace(repl: Repl, args: list[str]) -> None:
    as_csv = "--csv" in args
    args = [arg for arg in args if arg != "--csv"]
    if not args:
        raise CommandError(f"usage: {TRACE_USAGE}")
    report = logpoint(subject(repl), args[0], args[1:])
    repl.out.text(report.csv().rstrip("\n") if as_csv else report.text())


@command("origin", "from", usage=ORIGIN_USAGE, complete="symbols", words=("--depth",),
         summary="where the value of memory or a register now came from, step by step back",
         details=f"""
Walks the value back: the store that wrote the memory, the register it was
stored from, the load or arithmetic that set that register, and so on,
across calls and traps, until a constant in the code, a device register read
(named with its trace event), memory no instruction wrote, or N steps
(default {DEFAULT_DEPTH}). Arithmetic is followed through its first source
register; copies byte for byte. LEN (1 to 8) is the bytes of memory followed,
by default a data symbol's size or 8. The position is kept.""")
def _origin(repl: Repl, args: list[str]) -> None:
    depth = DEFAULT_DEPTH
    if args and args[0] in ("--depth", "-d"):
        if len(args) < 2:
            raise CommandError(f"usage: {ORIGIN_USAGE}")
        depth = check_depth(parse_count(args[1], "depth"))
        args = args[2:]
    if not 1 <= len(args) <= 2:
        raise CommandError(f"usage: {ORIGIN_USAGE}")
    length = parse_count(args[1], "length") if len(args) == 2 else None
    repl.out.text(origin(subject(repl), args[0], depth, length).text())


@command("diff", usage=DIFF_USAGE,
         summary="where another recording of this guest parts from this one",
         details="""
This trace is the good run, OTHER the bad one: the first input event that
differs, the first instruction after which the states differ (found by
bisection over state digests), and the first instruction count at which the
pcs differ. The position is kept. Both must be recordings of the same image
on the same board.""")
def _diff(repl: Repl, args: list[str]) -> None:
    repl.need(args, 1, 1, DIFF_USAGE)
    here = subject(repl)
    other = open_trace(args[0], symbols=here.symbols, cancel=here.cancel)
    repl.out.text(diff(here, other).text())
