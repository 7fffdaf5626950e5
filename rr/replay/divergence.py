"""What a replay reports when the guest no longer does what was recorded."""

from __future__ import annotations

from rr.errors import InputStop
from rr.log.events import Event, format_event

DIVERGENCE_STATUS = 5
# Bytes of an event's data shown in a divergence line (the rest is counted).
SHOWN_EVENT_BYTES = 32


class Divergence(InputStop):
    """The replayed run left the recorded one: a distinct exit status, and where it happened."""

    exit_status = DIVERGENCE_STATUS


class EndOfHistory(InputStop):
    """An incomplete trace ran out: the recording was cut off here. Not an error for replay."""


def _one_line(event: Event) -> str:
    return " ".join(format_event(event, SHOWN_EVENT_BYTES).split())


def divergence(what: str, icount: int, pc: int | None, expected: Event | None,
               last_match: Event | None) -> Divergence:
    where = f"instruction {icount}" + (f" (pc {pc:#x})" if pc is not None else "")
    wanted = _one_line(expected) if expected is not None else "the end of the trace"
    after = _one_line(last_match) if last_match is not None else "none (at the first event)"
    return Divergence(f"replay diverged at {where}: {what}; the trace expected {wanted}; "
                      f"last matching event: {after}")
