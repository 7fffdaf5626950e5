"""The nondeterministic inputs a recording logs, one dataclass per kind.

Each event carries the exact instruction count at which the guest observed it
(``icount``) and, optionally, the guest pc there: replay feeds the event back
at that count and compares the pc, so a divergence is caught at the first
input instead of much later as a wrong final state.

On disk an event is a msgpack array ``[tag, icount, pc, *fields]``, plus the
hart that observed it when the board has more than one: a small
integer tag instead of a name and positional fields instead of a map keep a
typical record under 20 bytes before compression. Kind *names* are what users
type (``rrvm dump --kind console_input``); tags are what the file stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rr.log.errors import TraceError
from rr.monitor.constants import MAX_EVENT_BYTES, MAX_HARTS, MAX_TEXT_FIELD

U64 = 1 << 64
I64_MIN = -(1 << 63)

# Field types of the on-disk schema (see traces/FORMAT.md).
UINT, INT, BYTES, STR = "uint", "int", "bytes", "str"


@dataclass(frozen=True, slots=True)
class Event:
    """What every event has: where in the instruction stream, and optionally the pc there."""

    icount: int
    pc: int | None = field(default=None, kw_only=True)
    hart: int | None = field(default=None, kw_only=True)    # only with several harts

    KIND: ClassVar[str] = ""
    TAG: ClassVar[int] = 0
    # (name, schema type) of the fields after icount and pc, in on-disk order.
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()


@dataclass(frozen=True, slots=True)
class ConsoleInput(Event):
    """Bytes the UART receive path handed to the guest at ``icount``."""

    data: bytes
    KIND: ClassVar[str] = "console_input"
    TAG: ClassVar[int] = 1
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("data", BYTES),)


@dataclass(frozen=True, slots=True)
class ClockRead(Event):
    """A host monotonic clock read in ns (the guest clock in host-clock mode)."""

    ns: int
    KIND: ClassVar[str] = "clock_read"
    TAG: ClassVar[int] = 2
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("ns", INT),)


@dataclass(frozen=True, slots=True)
class WallClockRead(Event):
    """A wall-clock read in ns since the Unix epoch (the goldfish RTC)."""

    ns: int
    KIND: ClassVar[str] = "wall_clock_read"
    TAG: ClassVar[int] = 3
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("ns", INT),)


@dataclass(frozen=True, slots=True)
class Entropy(Event):
    """Random bytes the guest received (rng seed, a virtio-rng request)."""

    data: bytes
    KIND: ClassVar[str] = "entropy"
    TAG: ClassVar[int] = 4
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("data", BYTES),)


@dataclass(frozen=True, slots=True)
class ConsoleClosed(Event):
    """Console input ended (stdin at end of file): no byte will ever come again.

    Interrupts are not logged: every raise follows from the guest's own
    execution, the console bytes and the clock reads, so replay derives them.
    """

    KIND: ClassVar[str] = "console_closed"
    TAG: ClassVar[int] = 5


@dataclass(frozen=True, slots=True)
class UserQuit(Event):
    """The user stopped the run (Ctrl-C, Ctrl-A x): replay stops here too."""

    KIND: ClassVar[str] = "user_quit"
    TAG: ClassVar[int] = 6


@dataclass(frozen=True, slots=True)
class GuestExit(Event):
    """The guest ended the run: ``kind`` (poweroff, fail, reboot) and ``code``, as in exits.py."""

    kind: str
    code: int = 0
    KIND: ClassVar[str] = "guest_exit"
    TAG: ClassVar[int] = 7
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("kind", STR), ("code", INT))


@dataclass(frozen=True, slots=True)
class Progress(Event):
    """The recording had reached ``icount`` (written at least once a second of recording).

    Not an input: nothing the guest observes, and a replay passes over it. It
    tells how far history goes in a trace that was cut before its footer (a
    killed recording), even when the guest took no input for a long time."""

    KIND: ClassVar[str] = "progress"
    TAG: ClassVar[int] = 8


EVENT_TYPES: tuple[type[Event], ...] = (ConsoleInput, ClockRead, WallClockRead, Entropy,
                                        ConsoleClosed, UserQuit, GuestExit, Progress)
TYPE_BY_TAG: dict[int, type[Event]] = {cls.TAG: cls for cls in EVENT_TYPES}
TYPE_BY_KIND: dict[str, type[Event]] = {cls.KIND: cls for cls in EVENT_TYPES}


def kind_names() -> list[str]:
    """Every event kind name, in tag order (for help texts and `rrvm info`)."""
    return [cls.KIND for cls in EVENT_TYPES]


def tag_of(kind: str) -> int:
    return _type_of_kind(kind).TAG


def kind_of_tag(tag: int) -> str:
    if tag not in TYPE_BY_TAG:
        raise TraceError(f"unknown event tag {tag}")
    return TYPE_BY_TAG[tag].KIND


def tags_for(kinds: Iterable[str | type[Event]]) -> frozenset[int]:
    """Tags selected by kind names or classes; an unknown name is an error, not an empty filter."""
    tags = set()
    for kind in kinds:
        cls = kind if isinstance(kind, type) and issubclass(kind, Event) else _type_of_kind(kind)
        tags.add(cls.TAG)
    return frozenset(tags)


def _type_of_kind(kind: str) -> type[Event]:
    if kind not in TYPE_BY_KIND:
        raise TraceError(f"unknown event kind {kind!r} (known: {', '.join(kind_names())})")
    return TYPE_BY_KIND[kind]


def encode_event(event: Event) -> list[Any]:
    """The on-disk record ``[tag, icount, pc, *fields]``, checked like the reader will check it."""
    cls = type(event)
    if TYPE_BY_TAG.get(cls.TAG) is not cls:
        raise TraceError(f"{cls.__name__} is not a trace event type")
    record = [cls.TAG, event.icount, event.pc, *(getattr(event, name) for name, _ in cls.FIELDS)]
    if event.hart is not None:
        record.append(event.hart)
    _check_record(cls, record)
    return record


def decode_event(record: Any) -> Event:
    """An event from a decoded msgpack record; anything off-schema is a TraceError."""
    if type(record) is not list or len(record) < 3:
        raise TraceError("event record is not an array [tag, icount, pc, ...]")
    tag = record[0]
    if type(tag) is not int or tag not in TYPE_BY_TAG:
        raise TraceError(f"unknown event tag {tag!r}")
    cls = TYPE_BY_TAG[tag]
    _check_record(cls, record)
    values = dict(zip((name for name, _ in cls.FIELDS), record[3:]))
    hart = record[3 + len(cls.FIELDS)] if len(record) > 3 + len(cls.FIELDS) else None
    return cls(record[1], pc=record[2], hart=hart, **values)


def _check_record(cls: type[Event], record: list[Any]) -> None:
    fields = len(cls.FIELDS)
    if len(record) not in (3 + fields, 4 + fields):
        raise TraceError(f"{cls.KIND} record has {len(record) - 3} fields, "
                         f"expected {fields} (or {fields + 1} with the hart)")
    if len(record) == 4 + fields and not (type(record[-1]) is int
                                          and 0 <= record[-1] < MAX_HARTS):
        raise TraceError(f"{cls.KIND} field 'hart' must be a hart number below {MAX_HARTS}, "
                         f"got {record[-1]!r:.40}")
    _check_value(cls.KIND, "icount", UINT, record[1])
    if record[2] is not None:
        _check_value(cls.KIND, "pc", UINT, record[2])
    for (name, schema), value in zip(cls.FIELDS, record[3:]):
        _check_value(cls.KIND, name, schema, value)


_CHECKS = {
    UINT: lambda v: type(v) is int and 0 <= v < U64,
    INT: lambda v: type(v) is int and I64_MIN <= v < U64,
    BYTES: lambda v: type(v) is bytes,
    STR: lambda v: type(v) is str,
}
# Longest value of a field type: no recording comes near (traces/FORMAT.md, "Limits").
_MAX_LENGTH = {BYTES: MAX_EVENT_BYTES, STR: MAX_TEXT_FIELD}


def _check_value(kind: str, name: str, schema: str, value: Any) -> None:
    if not _CHECKS[schema](value):
        shown = repr(value) if len(repr(value)) <= 40 else f"a {type(value).__name__}"
        raise TraceError(f"{kind} field {name!r} must be {schema}, got {shown}")
    limit = _MAX_LENGTH.get(schema)
    if limit is not None and len(value) > limit:
        raise TraceError(f"{kind} field {name!r} holds {len(value)} "
                         f"{'bytes' if schema == BYTES else 'characters'}, more than {limit}")


def format_event(event: Event, max_bytes: int | None = None) -> str:
    """One line for `rrvm dump`: icount, kind, pc, then the kind's own fields.

    Text and bytes are shown escaped (repr, or hex), so a trace cannot put
    control characters on a terminal; ``max_bytes`` cuts long values (for
    an error line) and says how long they were.
    """
    pc = f"pc={event.pc:#x}" if event.pc is not None else "pc=-"
    if event.hart is not None:
        pc += f" hart={event.hart}"
    own = " ".join(f"{name}={_show(getattr(event, name), max_bytes)}"
                   for name, _ in type(event).FIELDS)
    return f"{event.icount:>14} {event.KIND:<15} {pc} {own}".rstrip()


def _show(value: Any, max_bytes: int | None) -> str:
    whole = value
    if max_bytes is not None and isinstance(value, (bytes, str)) and len(value) > max_bytes:
        value = value[:max_bytes]
    shown = f"0x{value.hex()}" if isinstance(value, bytes) and not value.isascii() else repr(value)
    return shown if value is whole else f"{shown}... ({len(whole)} in all)"
