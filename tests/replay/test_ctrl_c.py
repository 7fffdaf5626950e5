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


def sigint_lands() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)                     # the handler runs here


def test_inside_a_deferred_block_ctrl_c_is_raised_only_where_it_is_checked(ctrl_c_installed):
    """Worker-pool code runs deferred: raised inside the executor, the exception left a
    future's lock held and the pool's shutdown waited for ever (segments.py)."""
    with pytest.raises(KeyboardInterrupt):
        with CTRL_C.deferred():
            sigint_lands()              # noted, not raised here
            assert CTRL_C.requested
            reached = True
            CTRL_C.check()
    assert reached


def test_leaving_a_deferred_block_raises_a_ctrl_c_noted_inside(ctrl_c_installed):
    with pytest.raises(KeyboardInterrupt):
        with CTRL_C.deferred():
            sigint_lands()
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)     # outside the block: raised at once again
        time.sleep(1)


def test_a_shutdown_leaves_the_ctrl_c_noted_for_the_next_check(ctrl_c_installed):
    with CTRL_C.deferred(check_after=False):
        sigint_lands()
    assert CTRL_C.requested
    with pytest.raises(KeyboardInterrupt):
        CTRL_C.check()
