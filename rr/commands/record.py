"""`rrvm record`: run a guest exactly like `rrvm run` and write a trace of the run."""

from __future__ import annotations

import argparse
import os
import sys

from rr.commands.board_options import (add_board_arguments, add_epoch_argument, bounded_int,
                                       max_insns)
from rr.commands.gdb_options import add_gdb_arguments
from rr.commands.live_debug import add_live_gdb_arguments, run_maybe_under_gdb
from rr.errors import RrError
from rr.monitor.constants import MAX_CHAOS_RUNS, MAX_CHAOS_SEED

HELP = "run a guest and record every nondeterministic input into a trace"
RANDOM_SEED = -1            # --chaos without a seed: one from os.urandom


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_board_arguments(parser)
    add_epoch_argument(parser)
    parser.add_argument("-o", "--output", required=True, metavar="TRACE", help="the trace to write")
    parser.add_argument("--max-insns", type=max_insns, metavar="N",
                        help="stop with an error after N instructions")
    parser.add_argument("--chaos", type=bounded_int("seed", 0, MAX_CHAOS_SEED, "0 to 2**64 - 1"), nargs="?", const=RANDOM_SEED, metavar="SEED",
                        help="with --smp: draw each quantum's length (1 to --quantum) from a "
                             "generator seeded with SEED (default: a random seed); the trace "
                             "keeps the seed, so the run replays exactly")
    parser.add_argument("--until-fail",
                        type=bounded_int("run count", 1, MAX_CHAOS_RUNS, f"1 to {MAX_CHAOS_RUNS:,} runs"), metavar="N",
                        help="with --chaos: record up to N runs (seeds SEED, SEED+1, ...) and "
                             "keep the first that fails (non-zero exit status or board error)")
    add_gdb_arguments(parser, required=False)
    add_live_gdb_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.chaos is not None and args.smp < 2:
        raise RrError("--chaos shuffles how harts take turns: it needs --smp 2 or more")
    if args.chaos == RANDOM_SEED:
        args.chaos = int.from_bytes(os.urandom(8), "little")
    if args.until_fail is None:
        return run_maybe_under_gdb(args, args.output)
    if args.chaos is None:
        raise RrError("--until-fail needs --chaos (without it every run is the same run)")
    if args.gdb is not None:
        raise RrError("--until-fail records runs one after another: it cannot take --gdb")
    return _until_fail(args)


def _until_fail(args: argparse.Namespace) -> int:
    """Record with seeds SEED, SEED+1, ... until a run fails; keep that trace only."""
    first = args.chaos
    for attempt in range(args.until_fail):
        args.chaos = (first + attempt) & MAX_CHAOS_SEED
        try:
            status = run_maybe_under_gdb(args, args.output)
        except RrError as error:
            _kept(args, attempt, f"it ended in a board error ({error})")
            raise
        if status != 0:
            _kept(args, attempt, f"exit status {status}")
            return status
        os.unlink(args.output)
    print(f"rrvm: no run failed in {args.until_fail} runs (seeds {first} to "
          f"{(first + args.until_fail - 1) & MAX_CHAOS_SEED}); no trace kept", file=sys.stderr)
    return 0


def _kept(args: argparse.Namespace, attempt: int, why: str) -> None:
    print(f"rrvm: run {attempt + 1} (--chaos {args.chaos}) failed, {why}: "
          f"its trace is {args.output}", file=sys.stderr)
