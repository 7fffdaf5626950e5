"""Field tables for the maps a trace stores: each field's type and range, checked before use.

A trace header is data from anywhere, and the board built from it allocates
what it says (RAM, an initrd, a disk). So every field is checked against a
table before anything reads it: type, range, length, allowed values. One
table row per field keeps the rule and the field side by side, and adding a
field to the header is adding a row. Fields a table does not name are
ignored (a later writer of the same format may add some; traces/FORMAT.md).

Every check raises ``TraceError`` naming the field by its path
(``header board ram_size``), so the reader can place it in the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from rr.log.errors import TraceError

Check = Callable[[Any, str], Any]
_REQUIRED = object()
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Field:
    """One key of a map: how to check its value, and what its absence means."""

    key: str
    check: Check
    default: Any = _REQUIRED        # absent key: this value (default: the key is required)

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


def read_map(data: Any, fields: tuple[Field, ...], what: str) -> dict[str, Any]:
    """The checked values of ``fields`` in ``data`` (a map), by key."""
    if type(data) is not dict:
        raise TraceError(f"{what} is not a map")
    values = {}
    for spec in fields:
        if spec.key not in data:
            if spec.required:
                raise TraceError(f"{what} has no field {spec.key!r}")
            values[spec.key] = spec.default
            continue
        values[spec.key] = spec.check(data[spec.key], f"{what} {spec.key}")
    return values


def _type_name(value: Any) -> str:
    """'nil', 'an int', 'a str': the value's msgpack-side type, with its article."""
    if value is None:
        return "nil"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else _type_name(value)


# -- checks: each returns the value, or raises naming ``what`` ------------------------

def integer(low: int = 0, high: int = (1 << 64) - 1, multiple: int = 1) -> Check:
    """An int (never a bool) in [low, high], a multiple of ``multiple``."""
    def check(value: Any, what: str) -> int:
        if type(value) is not int:
            raise TraceError(f"{what} is {_type_name(value)}, expected an integer")
        if not low <= value <= high:
            raise TraceError(f"{what} is out of range ({value}; allowed {low} to {high})")
        if value % multiple:
            raise TraceError(f"{what} ({value}) is not a multiple of {multiple}")
        return value
    return check


def text(max_length: int) -> Check:
    def check(value: Any, what: str) -> str:
        if type(value) is not str:
            raise TraceError(f"{what} is {_type_name(value)}, expected a string")
        if len(value) > max_length:
            raise TraceError(f"{what} is {len(value)} characters long, more than {max_length}")
        return value
    return check


def blob(max_length: int, exact: int | None = None) -> Check:
    def check(value: Any, what: str) -> bytes:
        if type(value) is not bytes:
            raise TraceError(f"{what} is {_type_name(value)}, expected bytes")
        if exact is not None and len(value) != exact:
            raise TraceError(f"{what} is {len(value)} bytes, expected {exact}")
        if len(value) > max_length:
            raise TraceError(f"{what} is {len(value)} bytes, more than {max_length}")
        return value
    return check


def one_of(*allowed: str) -> Check:
    def check(value: Any, what: str) -> str:
        if value not in allowed or type(value) is not str:
            raise TraceError(f"{what} is {_shown(value)}, expected one of "
                             f"{', '.join(repr(a) for a in allowed)}")
        return value
    return check


def boolean(value: Any, what: str) -> bool:
    if type(value) is not bool:
        raise TraceError(f"{what} is {_type_name(value)}, expected a bool")
    return value


def seconds(value: Any, what: str) -> float:
    """A Unix time: a finite int or float."""
    if type(value) not in (int, float) or not math.isfinite(value):
        raise TraceError(f"{what} is {_shown(value)}, expected a finite number of seconds")
    return float(value)


def hex_digest(length: int | None) -> Check:
    """Lowercase hex of ``length`` digits (None: any even length, including empty)."""
    def check(value: Any, what: str) -> str:
        if type(value) is not str or not _HEX.issuperset(value):
            raise TraceError(f"{what} is not lowercase hex")
        if length is not None and len(value) != length:
            raise TraceError(f"{what} is not {length} lowercase hex digits")
        if length is None and (len(value) % 2 or len(value) > 128):
            raise TraceError(f"{what} is not a digest ({len(value)} hex digits)")
        return value
    return check


def optional(inner: Check) -> Check:
    """nil, or a value ``inner`` accepts."""
    def check(value: Any, what: str) -> Any:
        return None if value is None else inner(value, what)
    return check


def text_list(max_items: int, max_length: int) -> Check:
    item = text(max_length)

    def check(value: Any, what: str) -> list[str]:
        if type(value) is not list:
            raise TraceError(f"{what} is {_type_name(value)}, expected an array")
        if len(value) > max_items:
            raise TraceError(f"{what} has {len(value)} items, more than {max_items}")
        return [item(element, f"{what} item {n}") for n, element in enumerate(value)]
    return check


def fields_of(fields: tuple[Field, ...]) -> Check:
    """A map checked against its own table; the value is the dict of checked fields."""
    def check(value: Any, what: str) -> dict[str, Any]:
        return read_map(value, fields, what)
    return check
