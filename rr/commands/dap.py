"""`rrvm dap [TRACE|IMAGE]`: a Debug Adapter Protocol server (VS Code and other IDEs),
with reverse execution.

Over stdio by default (what an IDE's "debug adapter executable" expects):
stdout carries only protocol messages, so anything else the process would
print there goes to stderr instead. With ``--port N`` it listens on
127.0.0.1:N (0: any free port, printed on stderr) and serves one client.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from rr.commands.board_options import add_board_arguments
from rr.commands.repl import add_history_arguments
from rr.dap.framing import DapStream
from rr.errors import RrError
from rr.gdbstub.constants import DEFAULT_ADDRESS

HELP = ("serve the Debug Adapter Protocol (VS Code and other IDEs) over a trace or a guest "
        "image, with reverse execution")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_board_arguments(parser)
    parser.description = (HELP + ". IMAGE is a trace written by rrvm record, or a guest image "
                          "to run live; it may also come with the launch request ('program'). "
                          "The board options apply to a live guest only.")
    parser.add_argument("--port", type=int, metavar="N",
                        help=f"listen on {DEFAULT_ADDRESS}:N instead of using stdio "
                             "(0: any free port)")
    parser.add_argument("--source-root", metavar="DIR",
                        help="where relative source paths in the DWARF line tables start "
                             "(default: the current directory; launch: 'sourceRoot')")
    add_history_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.port is not None:
        return _serve_port(args)
    # The protocol owns the real stdout; everything else printed goes to stderr.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    stream = DapStream(sys.stdin.buffer, protocol_out)
    _serve(args, stream)
    # The reader thread may still be blocked reading stdin, which the interpreter's
    # shutdown cannot close under it: the session is over (history closed), so leave now.
    sys.stderr.flush()
    os._exit(0)


def _serve_port(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise RrError(f"--port {args.port} is not a TCP port (0 to 65535)")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((DEFAULT_ADDRESS, args.port))
    except OSError as error:
        listener.close()
        raise RrError(f"cannot listen on {DEFAULT_ADDRESS}:{args.port}: "
                      f"{error.strerror or error}") from None
    listener.listen(1)
    print(f"rrvm dap: waiting for a client on {DEFAULT_ADDRESS}:{listener.getsockname()[1]}",
          file=sys.stderr, flush=True)
    try:
        conn, _ = listener.accept()
    finally:
        listener.close()
    with conn:
        reader, writer = conn.makefile("rb"), conn.makefile("wb")
        stream = DapStream(reader, writer)
        _serve(args, stream)
    return 0


def _serve(args: argparse.Namespace, stream: DapStream) -> None:
    """Answer the client on ``stream`` until it leaves. The adapter brings the REPL,
    DWARF and capstone, so it is imported here, not when the CLI starts."""
    from rr.dap.adapter import DapAdapter
    from rr.dap.server import serve
    from rr.repl.app import open_history

    serve(stream, DapAdapter(args, stream.write, open_history))
