"""The options every command that serves gdb shares: port, address, protocol log, symbols."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Callable

from rr.errors import RrError
from rr.printable import printable
from rr.gdbstub.constants import DEFAULT_ADDRESS, MAX_PORT

if TYPE_CHECKING:
    from rr.gdbstub.listener import GdbListener
    from rr.repl.symbols import SymbolTable


class GdbOptionError(RrError):
    """A gdb command line that cannot work (bad port)."""


def add_gdb_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--gdb", type=int, required=required, metavar="PORT",
                        help="TCP port for gdb's 'target remote' (0: any free port, printed)")
    parser.add_argument("--address", default=DEFAULT_ADDRESS, metavar="ADDR",
                        help=f"address to listen on (default {DEFAULT_ADDRESS}: this machine only)")
    parser.add_argument("--debug-protocol", action="store_true",
                        help="log every gdb packet to stderr")
    parser.add_argument("--symbols", metavar="ELF",
                        help="with --gdb: guest symbols for the addresses monitor commands take "
                             "and show (default: the guest image, if an ELF)")


def gdb_symbols(args: argparse.Namespace, image: bytes, name: str) -> "SymbolTable":
    """The symbols of --symbols, else of the guest ``image`` when it is an ELF."""
    from rr.repl.symbols import load_symbols
    return load_symbols(image, name, args.symbols)[0]


def stub_log(text: str) -> None:
    """The stub's own messages: on stderr, so the guest's console keeps stdout."""
    safe = "\n".join(printable(line) for line in text.split("\n"))  # trace text, escaped
    print(f"rrvm: {safe}", file=sys.stderr, flush=True)


def protocol_trace(args: argparse.Namespace) -> Callable[[str], None] | None:
    if not args.debug_protocol:
        return None
    return lambda text: print(f"rrvm gdb: {text}", file=sys.stderr, flush=True)


def open_listener(args: argparse.Namespace) -> "GdbListener":
    """Bind the port now, so a busy one fails before anything else starts."""
    from rr.gdbstub.listener import GdbListener
    if not 0 <= args.gdb <= MAX_PORT:
        raise GdbOptionError(f"--gdb {args.gdb}: a TCP port is 0 to {MAX_PORT}")
    return GdbListener(args.address, args.gdb)
