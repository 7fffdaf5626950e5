"""How a guest run ends, and the exit status each ending gives ``rrvm``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExitKind(StrEnum):
    """Why the guest stopped; the value is what a trace's footer and exit event hold."""

    POWEROFF = "poweroff"   # clean shutdown: status 0
    FAIL = "fail"           # the guest reported failure: its code, at least 1
    REBOOT = "reboot"       # the board resets and runs again
    QUIT = "quit"           # the user stopped it (Ctrl-A x, Ctrl-C): status 130


QUIT_STATUS = 130


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
