"""How and where history ends, once a timeline has run into its end.

A replay ends where the recording did: the guest's own exit (poweroff,
failure, the user's quit) or the board error the recording also ended with
(a trace that was cut off has no end: its history just stops at the last
recorded instruction). A live guest's history ends where the guest first
ends. Every client (the gdb targets, the REPL, the CLI) reads the same
record instead of telling exits and errors apart by their type.
"""

from __future__ import annotations

from dataclasses import dataclass

from rr.errors import RrError
from rr.monitor.exits import GuestExit


@dataclass(frozen=True)
class HistoryEnd:
    icount: int                        # the last position of history
    exit: GuestExit | None = None      # the guest ended itself
    error: RrError | None = None       # or a board error (GuestFault, InstructionLimit)

    @classmethod
    def at(cls, icount: int, ended: GuestExit | RrError) -> HistoryEnd:
        """From what the run loop returned (an exit) or raised (an error) at ``icount``."""
        if isinstance(ended, GuestExit):
            return cls(icount, exit=ended)
        return cls(icount, error=ended)

    @property
    def status(self) -> int:
        """The exit status of the run: the guest's, or the board error's."""
        if self.exit is not None:
            return self.exit.status
        assert self.error is not None
        return self.error.exit_status

    @property
    def detail(self) -> str:
        """What ended it, in a few words ('SBI system reset: shutdown', the error's line)."""
        if self.exit is not None:
            return self.exit.detail
        return str(self.error)

    def describe(self) -> str:
        """'the guest exited (fail, code 1, exit status 1) at instruction N', or how it stopped."""
        if self.exit is not None:
            return f"the guest exited ({self.exit.words}) at instruction {self.icount}"
        return f"the guest stopped at instruction {self.icount}: {self.error}"
