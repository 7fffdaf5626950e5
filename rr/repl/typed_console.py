"""The console of a guest explored live from the REPL: input is what `type` queued.

The terminal belongs to the REPL's prompt, so the guest cannot read it; the
user hands it input with the `type` command instead, which the guest
receives the next time it looks (the bytes are logged like any console
input, so going back and forth replays them where they were taken). A guest
that waits for input when none is queued cannot get any while a command
runs: ``on_starved`` is called, and the REPL stops the command there.
"""

from __future__ import annotations

from typing import Callable

from rr.monitor.inputs import ConsoleInput


class TypedConsole(ConsoleInput):
    def __init__(self) -> None:
        self._queued = bytearray()
        self.on_starved: Callable[[], None] = lambda: None

    def request_quit(self) -> None:
        """The guest is to stop as if the user had typed Ctrl-A x."""
        self.quit_requested = True

    def type(self, data: bytes) -> None:
        self._queued += data

    @property
    def queued(self) -> int:
        return len(self._queued)

    def read_available(self, max_bytes: int) -> bytes:
        data = bytes(self._queued[:max_bytes])
        del self._queued[:max_bytes]
        return data

    def wait(self, timeout: float | None) -> None:
        if not self._queued:
            self.on_starved()
