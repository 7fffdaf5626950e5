"""Parameters and local variables at a pc, from DWARF locations.

For the innermost function (and the calls inlined into it) holding the pc,
each parameter and variable whose location covers the pc is evaluated: a
register (DW_OP_regN), a computed value (DW_OP_stack_value), or memory at an
address computed from registers, the frame's CFA (DW_OP_call_frame_cfa,
the usual frame base) or a constant. Values are shown by their DWARF type
as gdb prints them (dwarf_types.py); structs, arrays and pointers to structs
have members to expand. A location this evaluator does not know, or none at
the pc, shows as "<optimized out>", as gdb says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from elftools.common.exceptions import DWARFError
from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.dwarf.locationlists import LocationEntry, LocationExpr, LocationParser

from rr.dap.dwarf_info import DWARF_ERRORS, dwarf_of
from rr.dap.dwarf_types import (MAX_VALUE_BYTES, POINTER_SIZE, TypedValue, byte_size,
                                expandable, format_value, members, type_name, type_of,
                                value_of_integer)
from rr.dap.inline_scopes import code_ranges

OPTIMIZED_OUT = "<optimized out>"
MASK64 = (1 << 64) - 1
_SCOPES = ("DW_TAG_subprogram", "DW_TAG_inlined_subroutine", "DW_TAG_lexical_block")
_VARIABLES = ("DW_TAG_formal_parameter", "DW_TAG_variable")


@dataclass(frozen=True)
class Local:
    name: str
    value: str                       # as gdb prints it
    type: str = ""                   # the C type's name
    typed: TypedValue | None = None  # set when it has members to expand (``members``)


class Machine:
    """What evaluating a location needs: registers by DWARF number, the CFA, memory."""

    def __init__(self, register: Callable[[int], int | None], cfa: int | None,
                 read: Callable[[int, int], bytes | None]) -> None:
        self.register = register
        self.cfa = cfa
        self.read = read


class LocalVariables:
    def __init__(self, data: bytes) -> None:
        self._dwarf = dwarf_of(data)
        if self._dwarf is not None:
            try:
                self._locations = LocationParser(self._dwarf.location_lists())
            except DWARF_ERRORS:
                self._dwarf = None

    def at(self, pc: int, machine: Machine, inlined: int | None = None) -> list[Local]:
        """The variables in scope at ``pc``, innermost scope first, of one function: the
        one the pc's code belongs to (``inlined`` 0), a call inlined into it (1), a call
        inlined into that (2)... and by default the innermost, as gdb shows them frame
        by frame."""
        if self._dwarf is None:
            return []
        try:
            for unit in self._units_for(pc):
                top = unit.get_top_DIE()
                chain = _function_scopes(_scope_chain(self._dwarf, unit, top, pc), inlined)
                if chain:
                    parser = DWARFExprParser(unit.structs)
                    return [local for scope in reversed(chain)
                            for local in self._scope_locals(unit, scope, pc, machine, parser)]
        except (DWARFError, ValueError, KeyError, AttributeError, IndexError):
            return []
        return []

    def _units_for(self, pc: int):
        """The compilation unit holding ``pc`` by the address ranges table, else all."""
        aranges = self._dwarf.get_aranges()
        offset = aranges.cu_offset_at_addr(pc) if aranges is not None else None
        if offset is not None:
            return [self._dwarf.get_CU_at(offset)]
        return self._dwarf.iter_CUs()

    def members(self, typed: TypedValue, read: Callable[[int, int], bytes | None]
                ) -> list[Local]:
        """The members of a struct, union or array, or of the struct a pointer points at."""
        try:
            return [_shown(name, part, read) for name, part in members(typed, read)]
        except DWARF_ERRORS:
            return []

    def _scope_locals(self, unit, scope, pc: int, machine: Machine,
                      parser: DWARFExprParser) -> list[Local]:
        found = []
        for die in scope.iter_children():
            if die.tag not in _VARIABLES:
                continue
            named = _origin(die)
            if "DW_AT_name" not in named.attributes:
                continue
            name = named.attributes["DW_AT_name"].value.decode("utf-8", "replace")
            kind = type_of(named)
            typed = self._value(unit, die, pc, machine, parser, kind)
            if isinstance(typed, str):
                found.append(Local(name, typed, type_name(kind)))
            else:
                found.append(_shown(name, typed, machine.read))
        return found

    def _value(self, unit, die, pc: int, machine: Machine, parser: DWARFExprParser,
               kind) -> TypedValue | str:
        """The variable's value, or the text saying why there is none."""
        constant = die.attributes.get("DW_AT_const_value")
        if constant is not None:                   # folded by the compiler: no location
            if isinstance(constant.value, int):
                return value_of_integer(kind, constant.value)
            return TypedValue(kind, bytes(constant.value))
        attribute = die.attributes.get("DW_AT_location")
        if attribute is None:
            return OPTIMIZED_OUT
        location = self._locations.parse_from_attribute(attribute, unit.header.version, die)
        expression = None
        if isinstance(location, LocationExpr):
            expression = location.loc_expr
        else:
            base = unit.get_top_DIE().attributes.get("DW_AT_low_pc")
            for entry in location:
                if not isinstance(entry, LocationEntry):
                    continue
                offset = 0 if entry.is_absolute or base is None else base.value
                if entry.begin_offset + offset <= pc < entry.end_offset + offset:
                    expression = entry.loc_expr
                    break
        if expression is None:
            return OPTIMIZED_OUT
        place = _evaluate(parser.parse_expr(expression), machine)
        if place is None:
            return OPTIMIZED_OUT
        in_memory, number = place
        size = min(byte_size(kind), MAX_VALUE_BYTES)
        if not in_memory:
            return value_of_integer(kind, number) if size <= POINTER_SIZE else OPTIMIZED_OUT
        data = machine.read(number, size)
        if data is None or len(data) != size:
            return f"<error: Cannot access memory at address {number:#x}>"
        return TypedValue(kind, data, number)


def _shown(name: str, typed: TypedValue, read: Callable[[int, int], bytes | None]) -> Local:
    return Local(name, format_value(typed, read), type_name(typed.type),
                 typed if expandable(typed) else None)


def _function_scopes(chain: list, inlined: int | None) -> list:
    """The part of a scope chain that belongs to one function (its blocks, not the calls
    inlined into it): the ``inlined``-th, counting the subprogram as 0; None: the last."""
    starts = [n for n, scope in enumerate(chain) if scope.tag != "DW_TAG_lexical_block"]
    if not starts:
        return []
    index = len(starts) - 1 if inlined is None else inlined
    if not 0 <= index < len(starts):
        return []
    end = starts[index + 1] if index + 1 < len(starts) else len(chain)
    return chain[starts[index]:end]


def _scope_chain(dwarf, unit, die, pc: int) -> list:
    """The scopes holding ``pc`` below ``die``, outermost first (empty: none)."""
    for child in die.iter_children():
        if child.tag in _SCOPES and _holds(dwarf, unit, child, pc):
            return [child, *_scope_chain(dwarf, unit, child, pc)]
    return []


def _holds(dwarf, unit, die, pc: int) -> bool:
    return any(start <= pc < end for start, end in code_ranges(dwarf, unit, die))


def _origin(die):
    for _ in range(4):
        if "DW_AT_abstract_origin" not in die.attributes:
            break
        die = die.get_DIE_from_attribute("DW_AT_abstract_origin")
    return die


def _evaluate(ops, machine: Machine) -> tuple[bool, int] | None:
    """Where a location expression puts the variable: (True, its address) in memory, or
    (False, its value) in a register or computed; None for what it cannot evaluate."""
    stack: list[int] = []
    in_register: int | None = None
    is_value = False
    for op in ops:
        name, args = op.op_name, op.args
        if name.startswith("DW_OP_reg") and name != "DW_OP_regx":
            in_register = machine.register(int(name[len("DW_OP_reg"):]))
        elif name == "DW_OP_regx":
            in_register = machine.register(args[0])
        elif name.startswith("DW_OP_breg") and name != "DW_OP_bregx":
            base = machine.register(int(name[len("DW_OP_breg"):]))
            if base is None:
                return None
            stack.append((base + args[0]) & MASK64)
        elif name == "DW_OP_call_frame_cfa":
            if machine.cfa is None:
                return None
            stack.append(machine.cfa)
        elif name == "DW_OP_fbreg":
            if machine.cfa is None:              # our guests' frame base is the CFA
                return None
            stack.append((machine.cfa + args[0]) & MASK64)
        elif name in ("DW_OP_addr", "DW_OP_const1u", "DW_OP_const2u", "DW_OP_const4u",
                      "DW_OP_const8u", "DW_OP_const1s", "DW_OP_const2s", "DW_OP_const4s",
                      "DW_OP_const8s", "DW_OP_constu", "DW_OP_consts"):
            stack.append(args[0] & MASK64)
        elif name.startswith("DW_OP_lit"):
            stack.append(int(name[len("DW_OP_lit"):]))
        elif name == "DW_OP_plus_uconst" and stack:
            stack.append((stack.pop() + args[0]) & MASK64)
        elif name == "DW_OP_stack_value":
            is_value = True
        else:
            return None                          # pieces, entry values, arithmetic: unknown
    if in_register is not None:
        return False, in_register
    if not stack:
        return None
    return (not is_value), stack[-1]
