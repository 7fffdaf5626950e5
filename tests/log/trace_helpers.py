"""Helpers shared by the trace format tests: a header, a set of events, writing a trace."""

from __future__ import annotations

from pathlib import Path

from rr.log import (ClockRead, ConsoleInput, EmbeddedFile, Entropy, GuestExit,
                    ConsoleClosed, Progress, TraceFooter, TraceHeader, TraceWriter, UserQuit,
                    WallClockRead)

ONE_OF_EACH = [
    ConsoleInput(1_000, b"v", pc=0x8020_0010),
    ClockRead(2_000, 123_456_789),
    WallClockRead(3_000, 1_700_000_000_000_000_000, pc=0xFFFF_FFFF_8000_0000),
    Entropy(4_000, bytes(range(64))),
    ConsoleClosed(10_000),
    UserQuit(12_345, pc=0),
    Progress(15_000),
    GuestExit(20_000, "fail", 7),
]


def make_header(**overrides) -> TraceHeader:
    """A header like `rrvm record` would write, with a small embedded image and dtb."""
    fields = dict(
        board={"ram_size": 128 << 20, "bootargs": "console=ttyS0", "clock": "virtual",
               "initrd_start": None, "initrd_end": None,
               "stdout_path": "/soc/serial@10000000", "rng_seed": bytes(64)},
        clock_mode="virtual", insns_per_tick=1, timebase_hz=10_000_000,
        image=EmbeddedFile.from_bytes(b"\x13\x00\x00\x00" * 256 + b"guest", "guests/demo.bin"),
        dtb=EmbeddedFile.from_bytes(b"\xd0\x0d\xfe\xed" + bytes(100), "virt.dtb"),
        command_line=["rrvm", "record", "guests/demo.bin", "-o", "demo.rrt"],
    )
    fields.update(overrides)
    return TraceHeader(**fields)


def write_trace(path: Path, events, *, footer: bool = True, header: TraceHeader | None = None,
                **writer_options) -> TraceFooter | None:
    """Write ``events`` to ``path``; with footer=False the writer is aborted (incomplete trace)."""
    writer = TraceWriter(path, header or make_header(), fsync=False, **writer_options)
    for event in events:
        writer.write(event)
    if not footer:
        writer.abort()
        return None
    last = events[-1].icount if events else 0
    return writer.close(TraceFooter(final_icount=last + 5, exit_status=7, exit_kind="fail",
                                    exit_code=7, state_hash="0f" * 32))


_counter = iter(range(1_000_000_000))


def trace_at(directory: Path, events, **options) -> Path:
    """Write ``events`` (see write_trace) to a fresh file in ``directory`` and return its path."""
    path = directory / f"t{next(_counter)}.rrt"
    write_trace(path, events, **options)
    return path
