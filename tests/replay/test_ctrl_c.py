"""Ctrl-C in a command with no handler of its own: it stops the command even when
it lands in a finalizer, where Python drops the KeyboardInterrupt it raises."""

from __future__ import annotations

import os
import signal
import time

import pytest

from rr.replay.cancellation import CTRL_C


class SignalledWhileFreed:
    """Its finalizer takes the SIGINT, as an engine context freed by the collector can."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)                 # the handler runs here, inside the finalizer


@pytest.fixture
def ctrl_c_installed():
    previous = signal.getsignal(signal.SIGINT)
    CTRL_C.install()
    yield
    signal.signal(signal.SIGINT, previous)
    CTRL_C.requested = False


def test_a_ctrl_c_dropped_in_a_finalizer_is_raised_at_the_next_check(ctrl_c_installed, capsys):
    CTRL_C.check()                      # nothing asked yet
    SignalledWhileFreed()               # freed at once; its KeyboardInterrupt is dropped
    assert CTRL_C.requested
    with pytest.raises(KeyboardInterrupt):
        CTRL_C.check()
    assert "KeyboardInterrupt" not in capsys.readouterr().err   # not reported as ignored


def test_a_ctrl_c_elsewhere_raises_at_once(ctrl_c_installed):
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)


def test_a_new_command_forgets_an_earlier_ctrl_c(ctrl_c_installed):
    CTRL_C.requested = True
    CTRL_C.install()
    CTRL_C.check()
