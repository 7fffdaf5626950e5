"""Recordings with chosen inputs, for the analysis tests: console bytes and an RTC value
fixed up front, so which run crashes, and where two runs part, is known in advance.

Not a conftest.py (see tests/replay/replay_helpers.py for why)."""

from __future__ import annotations

from pathlib import Path

from monitor.test_determinism import FixedInputs as DeterminismInputs
from rr.analysis.subject import Subject, open_trace
from rr.monitor.board import BootPayload, settle_payload
from rr.monitor.board_config import BoardConfig
from rr.monitor.loader import parse_image
from rr.record.recording import Recording
from rr.replay.session import Session

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "guests" / "bin"
POISON = 0xDEAD000000000100
# Two RTC readings of recorded demo runs: the first crashes on LIST_POISON, the
# second finishes its audit and powers off.
DEMO_CRASH_NS = 1796173093524940382
DEMO_PASS_NS = 1796173315115109925
FLOW_EVEN_NS = 1_700_000_000_000_000_000
FLOW_ODD_NS = FLOW_EVEN_NS + 1


class FixedInputs(DeterminismInputs):
    """Console bytes given up front (then closed), one chosen wall-clock value for every read."""

    def __init__(self, console: bytes, wall_ns: int) -> None:
        super().__init__(console)
        self.wall_ns = wall_ns

    def wall_time_ns(self, icount):
        return self.wall_ns


def record_fixed(trace: Path, guest: str, console: bytes = b"", wall_ns: int = FLOW_EVEN_NS,
                 config: BoardConfig | None = None) -> Path:
    """Record guests/bin/GUEST.elf into ``trace`` with these inputs, in this process."""
    config = config or BoardConfig()
    image = BIN / f"{guest}.elf"
    payload = settle_payload(config, BootPayload(parse_image(str(image), image.read_bytes())))
    recording = Recording(str(trace), config, payload, ["test", guest])
    session = Session(config, payload, recording.inputs(FixedInputs(console, wall_ns)),
                      lambda data: None, None, recording)
    session.history_ended(session.loop.run())
    return trace


def opened(trace: Path, at: int | None = None) -> Subject:
    """The trace with its symbols, at ``at`` (None: its end)."""
    subject = open_trace(str(trace))
    subject.timeline.seek(subject.length if at is None else at)
    return subject
