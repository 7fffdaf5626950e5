"""msgpack in and out, restricted to plain data.

A trace may come from anywhere (a bug report, a download, a fuzzer). msgpack
can carry extension types that some decoders turn into objects; we install no
hooks, and we check every decoded tree so that only None, bool, int, float,
str, bytes, list and str-keyed dict survive. The writer runs the same check,
so it can never write something the reader would refuse.
"""

from __future__ import annotations

from typing import Any

import msgpack

from rr.log.errors import TraceError

PLAIN_SCALARS = (type(None), bool, int, float, str, bytes)
# Deep enough for any board configuration, shallow enough that checking it
# cannot exhaust the stack.
MAX_DEPTH = 32


def check_plain(value: Any, what: str) -> None:
    """Raise TraceError unless ``value`` is a tree of plain data with str map keys."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind in PLAIN_SCALARS:
            continue
        if depth >= MAX_DEPTH:
            raise TraceError(f"{what} is nested deeper than {MAX_DEPTH} levels")
        if kind is list:
            stack.extend((element, depth + 1) for element in item)
        elif kind is dict:
            for key, element in item.items():
                if type(key) is not str:
                    raise TraceError(f"{what} has a map key of type {type(key).__name__}, not str")
                stack.append((element, depth + 1))
        else:
            raise TraceError(f"{what} holds a {kind.__name__}, which is not plain data")


def unpack_plain(data: bytes, what: str) -> Any:
    """Decode one msgpack object (and nothing after it) into checked plain data."""
    value = unpack_msgpack(data, what)
    check_plain(value, what)
    return value


def unpack_msgpack(data: bytes, what: str, **limits: int) -> Any:
    """Decode one msgpack object without checking the tree: the caller checks a stricter schema.

    ``limits`` are msgpack's ``max_array_len``, ``max_bin_len``... : a payload
    whose schema allows only short arrays is refused while it is decoded,
    before millions of objects exist.
    """
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True,
                                timestamp=0, **limits)
    except ValueError as exc:  # a limit, or extra data after the object
        detail = " ".join(str(exc).split())[:80]
        raise TraceError(f"{what} is not valid msgpack within its limits ({detail})") from None
    except Exception as exc:  # msgpack raises many unrelated types on garbage
        raise TraceError(f"{what} is not valid msgpack ({type(exc).__name__})") from None
    return value


def pack_plain(value: Any, what: str) -> bytes:
    """Encode checked plain data; bytes stay bin, str stays str."""
    check_plain(value, what)
    try:
        return msgpack.packb(value, use_bin_type=True)
    except (OverflowError, ValueError, TypeError) as exc:
        raise TraceError(f"{what} cannot be encoded ({exc})") from None
