"""The REPL's front end: opening a trace, the prompt-toolkit session, -c scripts, Ctrl-C.

History persists in a file: $RRVM_HISTORY if set, else
$XDG_STATE_HOME/rrvm/repl_history (~/.local/state/rrvm/repl_history).
While a command runs, SIGINT asks the timeline to stop (``Debugger.interrupt``)
and the prompt comes back; at the prompt, Ctrl-C clears the line and Ctrl-D quits.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from rr.commands.board_options import board_config, boot_payload, is_trace_file
from rr.commands import index_options
from rr.commands.broken_pipe import silence_stdout
from rr.log.trace_reader import TraceReader
from rr.monitor.board import settle_payload
from rr.monitor.inputs import HostInputs
from rr.printable import printable
from rr.record.recording import Recording
from rr.replay.live_session import LiveSession
from rr.repl.commands import Quit, Repl
from rr.repl.debugger import Debugger
from rr.repl.formatting import Printer, colour_wanted
from rr.repl.history import History, LiveHistory, TraceHistory
from rr.repl.symbols import SymbolTable, load_symbols
from rr.repl.typed_console import TypedConsole

HISTORY_ENV = "RRVM_HISTORY"


def history_path() -> Path:
    explicit = os.environ.get(HISTORY_ENV)
    if explicit:
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "rrvm" / "repl_history"


@contextmanager
def interruptible(debugger: Debugger) -> Iterator[None]:
    """SIGINT interrupts the running command instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: debugger.interrupt())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_line(repl: Repl, line: str) -> bool:
    """Run the ';'-separated commands of one line; raises Quit."""
    ok = True
    with interruptible(repl.debugger):
        for part in line.split(";"):
            ok = repl.execute(part.strip()) and ok
            if repl.debugger.interrupted:
                break                         # Ctrl-C stops the rest of the line too
    return ok


def run_script(repl: Repl, script: str) -> int:
    try:
        ok = run_line(repl, script)
    except Quit:
        return 0
    return 0 if ok else 1


def run_stream(repl: Repl, stream) -> int:
    """Commands read from a pipe, one line at a time."""
    ok = True
    try:
        for line in stream:
            ok = run_line(repl, line) and ok
    except Quit:
        pass
    return 0 if ok else 1


def prompt_text(debugger: Debugger, colour: bool):
    pc = debugger.pc
    where = debugger.symbols.describe(pc) or f"{pc:#x}"
    hart = f" hart {debugger.hart}" if len(debugger.board.harts) > 1 else ""
    head = f"[{debugger.position}{hart} {where}]"
    if not colour:
        return f"{head} rr> "
    return [("class:prompt", head), ("", " rr> ")]


def interactive(repl: Repl, banner: str) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.shortcuts import CompleteStyle

    from rr.repl.completion import ReplCompleter
    from rr.repl.formatting import style

    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        history = FileHistory(str(path))
    except OSError as exc:
        repl.out.error(f"history not kept: {path}: {exc.strerror or exc}")
        history = InMemoryHistory()
    session = PromptSession(history=history, completer=ReplCompleter(repl.debugger.symbols),
                            complete_style=CompleteStyle.READLINE_LIKE, style=style(),
                            complete_while_typing=False, include_default_pygments_style=False)
    repl.out.line(banner)
    while True:
        try:
            line = session.prompt(lambda: prompt_text(repl.debugger, repl.out.colour))
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        try:
            run_line(repl, line)
        except Quit:
            return 0
        except KeyboardInterrupt:             # between two commands of a line
            continue


def open_history(args: argparse.Namespace, guest_output: Callable[[bytes], None]
                 ) -> tuple[History, SymbolTable, str]:
    """A trace to replay, or a guest image to run live (told apart by the trace's magic);
    ``guest_output`` gets a live guest's console output."""
    path = args.image
    if is_trace_file(path):
        reader = TraceReader(path)
        image = reader.header.image
        symbols, origin = load_symbols(reader.image_bytes() or b"",
                                       f"the embedded {printable(image.name)}" if image
                                       else "no image",
                                       args.symbols)
        return TraceHistory(reader, index_options.for_history(args)), symbols, origin
    config = board_config(args)
    payload = settle_payload(config, boot_payload(args))
    console = TypedConsole()
    recording = Recording(args.record, config, payload, args.command_line) \
        if args.record else None
    session = LiveSession(config, payload, HostInputs(console), guest_output, recording)
    symbols, origin = load_symbols(payload.image.raw, path, args.symbols)
    return LiveHistory(session, console), symbols, origin


def main(args: argparse.Namespace) -> int:
    printer = Printer(colour=False if args.commands is not None else colour_wanted(sys.stdout))
    history, symbols, origin = open_history(args, printer.guest_output)
    debugger = Debugger(history, symbols)
    try:
        return _serve(Repl(debugger, printer), origin, args.commands)
    finally:
        history.close(debugger.timeline)


def _serve(repl: Repl, origin: str, script: str | None) -> int:
    debugger = repl.debugger
    try:
        if script is not None:
            return run_script(repl, script)
        if not sys.stdin.isatty() or not sys.stdout.isatty():
            return run_stream(repl, sys.stdin)
    except BrokenPipeError:              # `rrvm repl T -c "..." | head`
        silence_stdout()
        return 0
    size = (f"{debugger.length:,} instructions" if debugger.bounded
            else "running live (`type` feeds its console)")
    banner = (f"rrvm repl: {debugger.history.name}, {size}, {origin}. "
              "`help` lists the commands, Ctrl-D quits.")
    return interactive(repl, banner)
