"""The `rrvm` command: subcommands, and the one place errors become messages."""

from __future__ import annotations

import argparse
import sys

from rr import __version__
from rr.commands import dap, debug, diff, dtb, dump, index, info, origin, record, repl, \
    replay, run, trace
from rr.commands.broken_pipe import silence_stdout
from rr.errors import RrError
from rr.printable import clipped
from rr.replay.cancellation import CTRL_C
from rr.replay.worker_pool import discard_early

COMMANDS = {"run": run, "record": record, "replay": replay, "info": info, "dump": dump,
            "dtb": dtb, "index": index, "debug": debug, "repl": repl, "dap": dap,
            "trace": trace, "origin": origin, "diff": diff}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rrvm", description="Record, replay and debug RISC-V 64 guests on a QEMU-virt-like board.")
    parser.add_argument("--version", action="version", version=f"rrvm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(words)
    if args.command is None:
        words = ["run", *words]
        args = parser.parse_args(words)
    args.command_line = ["rrvm", *words]
    CTRL_C.install()
    try:
        return COMMANDS[args.command].run(args)
    except RrError as exc:
        print(f"rrvm: error: {clipped(str(exc))}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("rrvm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:              # `rrvm info T | head`: the reader left, not an error
        silence_stdout()
        return 0
    except MemoryError:
        print(f"rrvm: error: out of memory running `rrvm {args.command}`", file=sys.stderr)
        return 1
    finally:
        discard_early()              # workers started for a search that never came

