"""C values as their DWARF types say: type names and the text gdb prints for a value.

A value is its type's DIE and its bytes (little-endian, as the hart keeps
them), with the address it was read from when it lives in memory. The text
follows gdb's `print`, so an IDE shows what a gdb user would see: integers
in decimal at their size and signedness, `char` as `97 'a'`, `_Bool` as
true/false, enums by enumerator name (the number when none matches), floats
with 9 or 17 significant digits, pointers in hex (a `char *` with the string
it points at), structs and arrays as `{a = 1, b = {2, 3}}` with runs of ten
or more equal elements as `<repeats N times>`. Structs, unions, arrays and
pointers to them have members to expand (``members``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable

MAX_VALUE_BYTES = 64 << 10    # a bigger variable is shown from its first bytes only
MAX_STRING = 200              # gdb's `print elements` default
MAX_ELEMENTS = 200
REPEAT_THRESHOLD = 10         # gdb's `print repeats` default
POINTER_SIZE = 8
STRING_CHUNK = 64             # a string is read this many bytes at a time, within a page
PAGE_SIZE = 4096

_QUALIFIERS = {"DW_TAG_const_type": "const", "DW_TAG_volatile_type": "volatile",
               "DW_TAG_restrict_type": "restrict", "DW_TAG_atomic_type": "_Atomic"}
_AGGREGATES = ("DW_TAG_structure_type", "DW_TAG_union_type", "DW_TAG_class_type")
_KEYWORDS = {"DW_TAG_structure_type": "struct", "DW_TAG_union_type": "union",
             "DW_TAG_class_type": "class", "DW_TAG_enumeration_type": "enum"}
# DW_ATE_* base type encodings.
ATE_BOOLEAN, ATE_FLOAT, ATE_SIGNED, ATE_SIGNED_CHAR = 0x02, 0x04, 0x05, 0x06
ATE_UNSIGNED_CHAR = 0x08
_INTEGER_WORDS = {"short", "long", "int", "unsigned", "signed"}
_CHAR_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
                 27: "\\033", 92: "\\\\"}

Read = Callable[[int, int], "bytes | None"]


@dataclass(frozen=True)
class TypedValue:
    type: object                 # the DIE of its type (None: void)
    data: bytes
    address: int | None = None   # where it was read from, when it is in memory


def type_of(die) -> object:
    """The DIE named by ``die``'s DW_AT_type (None: void)."""
    if isinstance(die, ArrayRow) or "DW_AT_type" not in die.attributes:
        return None
    return die.get_DIE_from_attribute("DW_AT_type")


def underlying(kind) -> object:
    """``kind`` without typedefs and qualifiers (None: void)."""
    for _ in range(16):
        if kind is None or isinstance(kind, ArrayRow) or \
                (kind.tag != "DW_TAG_typedef" and kind.tag not in _QUALIFIERS):
            return kind
        kind = type_of(kind)
    return kind


def byte_size(kind) -> int:
    base = underlying(kind)
    if base is None:
        return 0
    if "DW_AT_byte_size" in base.attributes:
        return base.attributes["DW_AT_byte_size"].value
    if base.tag == "DW_TAG_pointer_type":
        return POINTER_SIZE
    if isinstance(base, ArrayRow):
        element, dimensions = base.element, base.dimensions
    elif base.tag == "DW_TAG_array_type":
        element, dimensions = type_of(base), _dimensions(base)
    else:
        return 0
    count = 1
    for length in dimensions:
        count *= length
    return count * byte_size(element)


def type_name(kind) -> str:
    if kind is None:
        return "void"
    if isinstance(kind, ArrayRow):
        return type_name(kind.element) + " " + "".join(f"[{n}]" for n in kind.dimensions)
    tag = kind.tag
    if tag in _QUALIFIERS:
        inner = type_of(kind)
        base = underlying(inner)
        if base is not None and base.tag == "DW_TAG_array_type":
            return type_name(inner)           # C qualifies the elements, which say so
        if base is not None and base.tag == "DW_TAG_pointer_type":
            return f"{type_name(inner)} {_QUALIFIERS[tag]}"     # char * const
        return f"{_QUALIFIERS[tag]} {type_name(inner)}"
    if tag == "DW_TAG_pointer_type":
        target = type_of(kind)
        if target is not None and target.tag == "DW_TAG_subroutine_type":
            return f"{type_name(type_of(target))} (*)({_parameters(target)})"
        name = type_name(target)
        return name + ("*" if name.endswith("*") else " *")
    if tag == "DW_TAG_array_type":
        return type_name(type_of(kind)) + " " + "".join(f"[{n}]" for n in _dimensions(kind))
    name = _name(kind)
    if tag == "DW_TAG_base_type":
        return _c_name(name)
    if tag in _KEYWORDS:
        return f"{_KEYWORDS[tag]} {name or '{...}'}"
    if tag == "DW_TAG_subroutine_type":
        return f"{type_name(type_of(kind))} ({_parameters(kind)})"
    return name or "?"


def format_value(value: TypedValue, read: Read) -> str:
    """The text gdb prints for ``value``; ``read`` gives memory (for a `char *`'s string)."""
    base = underlying(value.type)
    data = value.data
    if base is None:
        return "void"
    tag = base.tag
    if tag == "DW_TAG_base_type":
        return _base(base, data)
    if tag == "DW_TAG_enumeration_type":
        number = _integer(data, _signed_enum(base))
        for child in base.iter_children():
            if child.tag == "DW_TAG_enumerator" and \
                    child.attributes["DW_AT_const_value"].value == number:
                return _name(child)
        return str(number)
    if tag == "DW_TAG_pointer_type":
        return _pointer(base, data, read)
    if tag in _AGGREGATES or tag == "DW_TAG_array_type":
        return _aggregate(value, read)
    return "0x" + data[::-1].hex() if data else "?"


def expandable(value: TypedValue) -> bool:
    """Whether ``value`` has members to show: an aggregate, or a non-null pointer to one."""
    base = underlying(value.type)
    if base is None:
        return False
    if base.tag in _AGGREGATES or base.tag == "DW_TAG_array_type":
        return True
    if base.tag == "DW_TAG_pointer_type":
        target = underlying(type_of(base))
        return target is not None and target.tag in _AGGREGATES and \
            _integer(value.data, False) != 0
    return False


def members(value: TypedValue, read: Read) -> list[tuple[str, TypedValue]]:
    """The named parts of an aggregate (the pointee's, for a pointer), in order."""
    base = underlying(value.type)
    if base is not None and base.tag == "DW_TAG_pointer_type":
        address = _integer(value.data, False)
        target = type_of(base)
        size = min(byte_size(target), MAX_VALUE_BYTES)
        data = read(address, size)
        if data is None or len(data) != size:
            return []
        return members(TypedValue(target, data, address), read)
    if base is None:
        return []
    if base.tag == "DW_TAG_array_type":
        return _elements(base, value)
    found = []
    for child in base.iter_children():
        if child.tag != "DW_TAG_member":
            continue
        part = _member(child, value)
        if part is not None:
            found.append((_name(child) or "<anonymous>", part))
    return found


def value_of_integer(kind, number: int) -> TypedValue:
    """A value computed or held in a register: its type's bytes of ``number``."""
    size = byte_size(kind) or POINTER_SIZE
    return TypedValue(kind, (number & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))


# --- pieces ------------------------------------------------------------------------------
def _name(die) -> str:
    attribute = die.attributes.get("DW_AT_name")
    return attribute.value.decode("utf-8", "replace") if attribute is not None else ""


def _c_name(name: str) -> str:
    """A base type's name as gdb prints it: "long unsigned int" is "unsigned long"."""
    words = name.split()
    if not words or "char" in words or not set(words) <= _INTEGER_WORDS:
        return name
    sizes = [word for word in words if word in ("short", "long")]
    unsigned = "unsigned " if "unsigned" in words else ""
    return unsigned + (" ".join(sizes) if sizes else "int")


def _parameters(subroutine) -> str:
    names = [type_name(type_of(child)) for child in subroutine.iter_children()
             if child.tag == "DW_TAG_formal_parameter"]
    if any(child.tag == "DW_TAG_unspecified_parameters" for child in subroutine.iter_children()):
        names.append("...")
    return ", ".join(names) or "void"


def _dimensions(array) -> list[int]:
    lengths = []
    for child in array.iter_children():
        if child.tag != "DW_TAG_subrange_type":
            continue
        if "DW_AT_count" in child.attributes:
            lengths.append(child.attributes["DW_AT_count"].value)
        elif "DW_AT_upper_bound" in child.attributes:
            lengths.append(child.attributes["DW_AT_upper_bound"].value + 1)
        else:
            lengths.append(0)                  # a flexible array member
    return lengths


def _integer(data: bytes, signed: bool) -> int:
    return int.from_bytes(data, "little", signed=signed)


def _signed_enum(enum) -> bool:
    kind = underlying(type_of(enum))
    return kind is not None and kind.attributes.get("DW_AT_encoding") is not None and \
        kind.attributes["DW_AT_encoding"].value in (ATE_SIGNED, ATE_SIGNED_CHAR)


def _base(base, data: bytes) -> str:
    encoding = base.attributes["DW_AT_encoding"].value if "DW_AT_encoding" in base.attributes \
        else None
    if encoding == ATE_FLOAT and len(data) in (4, 8):
        number = struct.unpack("<f" if len(data) == 4 else "<d", data)[0]
        return f"{number:.{9 if len(data) == 4 else 17}g}"
    signed = encoding in (ATE_SIGNED, ATE_SIGNED_CHAR)
    number = _integer(data, signed)
    if encoding == ATE_BOOLEAN and number in (0, 1):
        return "true" if number else "false"
    if encoding in (ATE_SIGNED_CHAR, ATE_UNSIGNED_CHAR) and len(data) == 1:
        return f"{number} '{_char(data[0], quote=39)}'"
    return str(number)


def _char(byte: int, quote: int) -> str:
    if byte in _CHAR_ESCAPES:
        return _CHAR_ESCAPES[byte]
    if byte == quote:
        return "\\" + chr(byte)
    if 32 <= byte < 127:
        return chr(byte)
    return f"\\{byte:03o}"


def _is_char(kind) -> bool:
    base = underlying(kind)
    return base is not None and base.tag == "DW_TAG_base_type" and \
        byte_size(base) == 1 and "DW_AT_encoding" in base.attributes and \
        base.attributes["DW_AT_encoding"].value in (ATE_SIGNED_CHAR, ATE_UNSIGNED_CHAR)


def _pointer(base, data: bytes, read: Read) -> str:
    address = _integer(data, False)
    text = f"{address:#x}"
    if address and _is_char(type_of(base)):
        string = _string_at(address, read)
        if string is not None:
            text += " " + string
    return text


def _string_at(address: int, read: Read) -> str | None:
    """A NUL-terminated string as gdb quotes it ("..." after MAX_STRING characters)."""
    data = b""
    while len(data) < MAX_STRING and b"\0" not in data:
        here = address + len(data)
        chunk = read(here, min(STRING_CHUNK, PAGE_SIZE - here % PAGE_SIZE))   # one page
        if not chunk:
            return None if not data else _quoted(data) + "..."
        data += chunk
    text, nul, _ = data.partition(b"\0")
    if nul and len(text) <= MAX_STRING:
        return _quoted(text)
    return _quoted(text[:MAX_STRING]) + "..."


def _quoted(data: bytes) -> str:
    return '"' + "".join(_char(byte, quote=34) for byte in data) + '"'


def _member(member, value: TypedValue) -> TypedValue | None:
    kind = type_of(member)
    offset = _member_offset(member)
    if offset is None:
        return None
    size = byte_size(kind)
    bits = member.attributes.get("DW_AT_bit_size")
    if bits is not None:
        bit_offset = member.attributes.get("DW_AT_data_bit_offset")
        start = bit_offset.value if bit_offset is not None else offset * 8
        whole = _integer(value.data, False)
        field = (whole >> start) & ((1 << bits.value) - 1)
        base = underlying(kind)
        signed = base is not None and "DW_AT_encoding" in base.attributes and \
            base.attributes["DW_AT_encoding"].value in (ATE_SIGNED, ATE_SIGNED_CHAR)
        if signed and field >> (bits.value - 1):
            field -= 1 << bits.value
        return value_of_integer(kind, field)
    data = value.data[offset:offset + size]
    if len(data) != size:
        return None
    address = value.address + offset if value.address is not None else None
    return TypedValue(kind, data, address)


def _member_offset(member) -> int | None:
    location = member.attributes.get("DW_AT_data_member_location")
    if location is None:
        return 0 if "DW_AT_data_bit_offset" not in member.attributes else \
            member.attributes["DW_AT_data_bit_offset"].value // 8
    if isinstance(location.value, int):
        return location.value
    ops = location.value                    # DWARF 2 style: DW_OP_plus_uconst N
    if isinstance(ops, list) and len(ops) >= 2 and ops[0] == 0x23:
        return _uleb(ops[1:])
    return None


def _uleb(data: list[int]) -> int:
    result = shift = 0
    for byte in data:
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return result


def _elements(array, value: TypedValue) -> list[tuple[str, TypedValue]]:
    """An array's elements (of a multi-dimensional one: its rows, as ArrayRows)."""
    if isinstance(array, ArrayRow):
        element, dimensions = array.element, array.dimensions
    else:
        element, dimensions = type_of(array), _dimensions(array)
    if not dimensions:
        return []
    part = ArrayRow(element, dimensions[1:]) if len(dimensions) > 1 else element
    size = byte_size(part)
    if not size:
        return []
    count = min(dimensions[0], len(value.data) // size, MAX_ELEMENTS)
    return [(f"[{n}]", TypedValue(part, value.data[n * size:(n + 1) * size],
                                  None if value.address is None else value.address + n * size))
            for n in range(count)]


def _aggregate(value: TypedValue, read: Read) -> str:
    base = underlying(value.type)
    if base.tag != "DW_TAG_array_type":
        return "{" + ", ".join(f"{name} = {format_value(part, read)}"
                               for name, part in members(value, read)) + "}"
    element, dimensions = (base.element, base.dimensions) if isinstance(base, ArrayRow) \
        else (type_of(base), _dimensions(base))
    if len(dimensions) == 1 and _is_char(element):
        return _char_array(value.data)
    shown = _with_repeats([format_value(part, read) for _, part in members(value, read)])
    if dimensions and dimensions[0] > MAX_ELEMENTS:
        shown.append("...")
    return "{" + ", ".join(shown) + "}"


def _with_repeats(texts: list[str]) -> list[str]:
    """Runs of REPEAT_THRESHOLD or more equal elements as `X <repeats N times>`."""
    shown, n = [], 0
    while n < len(texts):
        run = 1
        while n + run < len(texts) and texts[n + run] == texts[n]:
            run += 1
        if run >= REPEAT_THRESHOLD:
            shown.append(f"{texts[n]} <repeats {run} times>")
        else:
            shown += texts[n:n + run]
        n += run
    return shown


def _char_array(data: bytes) -> str:
    """gdb's text for a char array: a string; the NUL ending it is not shown, and a run of
    REPEAT_THRESHOLD or more NULs after it is shown as a repeat."""
    text = data.rstrip(b"\0")
    padding = max(0, len(data) - len(text) - 1)
    shown = _quoted(text[:MAX_STRING]) + ("..." if len(text) > MAX_STRING else "")
    if padding >= REPEAT_THRESHOLD:
        tail = f"'\\000' <repeats {padding} times>"
        return f"{shown}, {tail}" if text else tail
    return _quoted(text[:MAX_STRING] + b"\0" * padding) if len(text) <= MAX_STRING else shown


class ArrayRow:
    """A row of a multi-dimensional array (int m[2][3] has two of int[3]): a type that
    DWARF has no DIE for."""

    tag = "DW_TAG_array_type"
    attributes: dict = {}

    def __init__(self, element, dimensions: list[int]) -> None:
        self.element = element
        self.dimensions = dimensions
