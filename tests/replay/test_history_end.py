"""HistoryEnd: one record of how history ended, whatever ended it."""

from __future__ import annotations

from rr.errors import GuestFault, InstructionLimit
from rr.monitor.exits import QUIT_STATUS, ExitKind, GuestExit
from rr.replay.history_end import HistoryEnd


def test_a_guest_exit():
    end = HistoryEnd.at(1234, GuestExit(ExitKind.FAIL, 3, "sifive test device: failure code 3"))
    assert end.exit is not None and end.error is None
    assert end.status == 3 and end.detail == "sifive test device: failure code 3"
    assert end.describe() == "the guest exited (fail, code 3, exit status 3) at instruction 1234"
    assert HistoryEnd.at(5, GuestExit(ExitKind.QUIT)).status == QUIT_STATUS
    assert HistoryEnd.at(5, GuestExit(ExitKind.POWEROFF, 7)).status == 0


def test_a_board_error():
    end = HistoryEnd.at(99, InstructionLimit("stopped after 99 instructions (--max-insns)"))
    assert end.exit is None and end.status == InstructionLimit.exit_status
    assert end.detail == "stopped after 99 instructions (--max-insns)"
    assert end.describe() == ("the guest stopped at instruction 99: "
                              "stopped after 99 instructions (--max-insns)")
    assert HistoryEnd.at(1, GuestFault("jump into nowhere")).status == GuestFault.exit_status
