"""How a guest run ends, and the exit status each ending gives ``rrvm``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rr.printable import printable


class ExitKind(StrEnum):
    """Why the guest stopped; the value is what a trace's footer and exit event hold."""

    POWEROFF = "poweroff"   # clean shutdown: status 0
    FAIL = "fail"           # the guest reported failure: its code, at least 1
    REBOOT = "reboot"       # the board resets and runs again
    QUIT = "quit"           # the user stopped it (Ctrl-A x, Ctrl-C): status 130


QUIT_STATUS = 130


def exit_words(kind: str, code: int, status: int) -> str:
    """'fail, code 1, exit status 1': how a run ended, as rrvm info and the debuggers say it."""
    return f"{printable(kind) or '?'}, code {code}, exit status {status}"


@dataclass(frozen=True)
class GuestExit:
    kind: ExitKind
    code: int = 0
    detail: str = ""

    @property
    def status(self) -> int:
        if self.kind is ExitKind.POWEROFF:
            return 0
        if self.kind is ExitKind.QUIT:
            return QUIT_STATUS
        return self.code if self.code else 1

    @property
    def words(self) -> str:
        return exit_words(self.kind, self.code, self.status)
