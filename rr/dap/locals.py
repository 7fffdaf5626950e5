"""Parameters and local variables at a pc, from DWARF locations.

For the innermost function (and the calls inlined into it) holding the pc,
each parameter and variable whose location covers the pc is evaluated: a
register (DW_OP_regN), a computed value (DW_OP_stack_value), or memory at an
address computed from registers, the frame's CFA (DW_OP_call_frame_cfa,
the usual frame base) or a constant. Values are shown as raw hex of the
variable's byte size; a location this evaluator does not know, or none at
the pc, shows as "<optimized out>", as gdb says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from elftools.common.exceptions import DWARFError
from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.dwarf.locationlists import LocationEntry, LocationExpr, LocationParser

from rr.dap.dwarf_info import DWARF_ERRORS, dwarf_of
from rr.dap.inline_scopes import code_ranges

OPTIMIZED_OUT = "<optimized out>"
MASK64 = (1 << 64) - 1
_SCOPES = ("DW_TAG_subprogram", "DW_TAG_inlined_subroutine", "DW_TAG_lexical_block")
_VARIABLES = ("DW_TAG_formal_parameter", "DW_TAG_variable")
_QUALIFIERS = ("DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type",
               "DW_TAG_restrict_type", "DW_TAG_atomic_type")


@dataclass(frozen=True)
class Local:
    name: str
    value: str


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

    def at(self, pc: int, machine: Machine) -> list[Local]:
        """The variables in scope at ``pc``, innermost scope first."""
        if self._dwarf is None:
            return []
        try:
            for unit in self._units_for(pc):
                top = unit.get_top_DIE()
                chain = _scope_chain(self._dwarf, unit, top, pc)
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
            size = _byte_size(named)
            found.append(Local(name, self._value(unit, die, pc, machine, parser, size)))
        return found

    def _value(self, unit, die, pc: int, machine: Machine, parser: DWARFExprParser,
               size: int) -> str:
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
        value = _evaluate(parser.parse_expr(expression), machine, size)
        if value is None:
            return OPTIMIZED_OUT
        return f"{value & ((1 << (8 * size)) - 1):#x}"


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


def _byte_size(die) -> int:
    kind = die
    for _ in range(8):
        if "DW_AT_type" not in kind.attributes:
            return 8
        kind = kind.get_DIE_from_attribute("DW_AT_type")
        if kind.tag == "DW_TAG_pointer_type":
            return 8
        if kind.tag not in _QUALIFIERS and "DW_AT_byte_size" in kind.attributes:
            return min(8, kind.attributes["DW_AT_byte_size"].value)
    return 8


def _evaluate(ops, machine: Machine, size: int) -> int | None:
    """A location expression's value (read from memory unless it is a register or a
    stack value); None for what it cannot evaluate."""
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
    if in_register is not None or (not stack and in_register is None and not is_value):
        return in_register
    if is_value:
        return stack[-1]
    data = machine.read(stack[-1], size)
    return int.from_bytes(data, "little") if data is not None and len(data) == size else None
