"""What a trace holds, in words: the summary `rrvm info` prints and the debuggers show.

Read from the header, the index and the footer (and, for the event counts,
every chunk, which verifies them on the way). The CLI's `rrvm info`, the
REPL's `info` and gdb's `monitor info` all take their lines from here. Every
string a trace carries is shown through ``printable``.
"""

from __future__ import annotations

import datetime
from collections import Counter

from rr.log.event_sequence import TraceEvents
from rr.log.events import kind_names
from rr.log.header import EMBED_ROLES, TraceHeader
from rr.log.index import TraceFooter
from rr.log.trace_reader import TraceReader
from rr.monitor.clock import ClockKind
from rr.monitor.constants import UNRECORDED_EPOCH_INSNS
from rr.monitor.exits import exit_words
from rr.printable import byte_size, printable


def footer_exit_words(footer: TraceFooter) -> str:
    """'fail, code 1, exit status 1': how the recorded run ended."""
    return exit_words(footer.exit_kind, footer.exit_code, footer.exit_status)


def brief(reader: TraceReader) -> list[str]:
    """The first lines of gdb's `monitor info`: which trace, which guest, how far history goes."""
    image = reader.header.image
    footer = reader.footer
    lines = [f"trace        {reader.path}",
             f"guest        {printable(image.name or image.path) if image else '(none)'}"]
    if footer is not None:
        lines.append(f"history      instructions 0 to {footer.final_icount}, complete")
        lines.append(f"exit         {footer_exit_words(footer)}")
    else:
        lines.append(f"history      incomplete: instructions 0 to {reader.last_icount or 0} "
                     "(the recording was cut off)")
    return lines


def describe(reader: TraceReader) -> str:
    """The whole summary, one fact per line; every string from the trace is shown escaped."""
    header, footer = reader.header, reader.footer
    lines = [f"trace        {reader.path}",
             f"format       version {reader.format_version}, recorded by rrvm "
             f"{printable(header.rrvm_version)} on {_when(header.created)}"]
    image = header.image
    if image is not None:
        lines.append(f"guest        {printable(image.name or image.path)}  "
                     f"sha256 {image.sha256[:16]}  "
                     f"({byte_size(image.size)})")
    else:
        lines.append("guest        (no embedded image)")
    lines.append(f"board        {_board(header)}")
    command = printable(" ".join(header.command_line))
    lines.append(f"command      {command or '(not recorded)'}")
    lines.append(f"engine       {printable(header.engine or '(not recorded)')} "
                 "(instruction counting)")

    if footer is not None:
        length = footer.final_icount
        lines.append(f"length       {length:,} instructions")
        if footer.hart_insns is not None:
            lines.append("harts        " + ", ".join(f"hart {n}: {count:,}"
                                                     for n, count in enumerate(footer.hart_insns)))
    else:
        length = reader.last_icount or 0
        lines.append(f"length       incomplete, at least {length:,} instructions "
                     "(the last recorded event)")
    lines.append(f"duration     {_duration(header, footer, length)}")

    if footer is not None:
        lines.append(f"exit         {footer_exit_words(footer)}")
        lines.append(f"state hash   {footer.state_hash[:16] or '(none: no final state recorded)'}")
        verifies = ("verifies the final state" if footer.state_hash
                    else "cannot verify the final state (none recorded)")
        if reader.problems:
            lines.append(f"complete     damaged ({printable(reader.problems[0])}); the footer "
                         f"was found by a scan, replay runs to the end and {verifies}")
        else:
            lines.append(f"complete     yes: replay runs to the end and {verifies}")
    else:
        lines.append("exit         unknown (the recording was cut off)")
        problem = f" ({printable(reader.problems[-1])})" if reader.problems else ""
        lines.append(f"complete     no{problem}; replay stops at the end of recorded "
                     f"history, instruction {length:,}")

    counts = _event_counts(reader)
    total = sum(counts.values())
    lines.append(f"events       {total:,} in {len(reader.index)} chunk"
                 f"{'' if len(reader.index) == 1 else 's'}, all verified")
    for kind in sorted(counts, key=_kind_order):
        lines.append(f"  {kind:<16} {counts[kind]:>10,}")
    if footer is not None and Counter(footer.event_counts) != counts:
        lines.append("  (the footer's counts by kind differ from the chunks': "
                     f"{printable(repr(dict(footer.event_counts)))})")

    event_bytes = sum(chunk.raw_size for chunk in reader.index)
    stored_bytes = sum(chunk.stored_size for chunk in reader.index)
    embedded = [(role, header.embedded(role)) for role in EMBED_ROLES]
    embedded = [(role, e) for role, e in embedded if e is not None]
    embedded_raw = sum(e.size for _, e in embedded)
    lines.append(f"size         {byte_size(reader.size)} ({reader.size:,} bytes)")
    lines.append(f"  events     {byte_size(event_bytes)} msgpack, {byte_size(stored_bytes)} lz4")
    for role, e in embedded:
        lines.append(f"  {role:<10} {byte_size(e.size)}, {byte_size(len(e.compressed))} lz4")
    if reader.size:
        ratio = (event_bytes + embedded_raw) / reader.size
        lines.append(f"compression  {ratio:.2f}x (events {byte_size(event_bytes)} + embedded "
                     f"{byte_size(embedded_raw)} uncompressed, vs the file)")
    return "\n".join(lines)


def _board(header: TraceHeader) -> str:
    board = header.board
    ram = board.get("ram_size")
    parts = [f"RAM {byte_size(ram)}" if isinstance(ram, int) else "RAM ?"]
    rate = header.insns_per_tick * header.timebase_hz
    if header.clock_mode == ClockKind.VIRTUAL:
        parts.append(f"virtual clock ({rate / 1e6:g} M instructions per second)")
    else:
        parts.append(f"{printable(header.clock_mode)} clock")
    parts.append(f"bootargs {board.get('bootargs')!r}" if board.get("bootargs")
                 else "no bootargs")
    if board.get("initrd_start") is not None:
        parts.append(f"initrd at {board['initrd_start']:#x}")
    disk = board.get("disk")
    if isinstance(disk, dict):
        embedded = "embedded" if header.disk is not None else "referenced"
        writable = ", writable" if disk.get("writable") else ""
        parts.append(f"virtio disk {printable(disk['path'])} ({embedded}{writable})")
    if board.get("virtio_rng"):
        parts.append("virtio-rng")
    epoch = board.get("epoch_insns", UNRECORDED_EPOCH_INSNS)
    parts.append(f"epoch {epoch:,} instructions" if isinstance(epoch, int) else "epoch ?")
    harts = board.get("harts", 1)
    if isinstance(harts, int) and harts > 1:
        parts.append(f"{harts} harts, quantum {board.get('quantum_insns', 0):,} instructions")
    if board.get("sstc") is True:
        parts.append("Sstc")
    return ", ".join(parts)


def _duration(header: TraceHeader, footer, length: int) -> str:
    parts = []
    if footer is not None:
        parts.append(f"{_seconds(footer.closed - header.created)} recorded (wall time)")
    else:
        parts.append("wall time unknown (no footer)")
    if header.clock_mode == ClockKind.VIRTUAL:
        rate = header.insns_per_tick * header.timebase_hz
        if rate:
            parts.append(f"{_seconds(length / rate)} virtual time")
    return ", ".join(parts)


def _event_counts(reader: TraceReader) -> Counter[str]:
    """Events by kind, counted from the chunks: every chunk is read and verified on the way,
    a chunk at a time, and nothing may follow the guest's exit."""
    return Counter(TraceEvents(reader).verify())


def _kind_order(kind: str) -> tuple[int, str]:
    names = kind_names()
    return (names.index(kind) if kind in names else len(names), kind)


def _when(timestamp: float) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "an unknown date"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(value: float) -> str:
    if value < 0:
        return f"{value:.3f} s"
    if value < 1:
        return f"{value * 1000:.3f} ms"
    if value < 120:
        return f"{value:.3f} s"
    minutes, seconds = divmod(value, 60)
    return f"{int(minutes)} min {seconds:.1f} s"

