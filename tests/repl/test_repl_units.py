"""The REPL's parts on their own: symbols, expressions, instruction decoding, output, history."""

from __future__ import annotations

import io
from pathlib import Path

import capstone
import pytest

from repl_helpers import BIN, elf_symbol
from rr.repl.app import history_path
from rr.monitor.riscv import cause_name
from rr.repl.commands import COMMANDS, all_names, lookup, value_changes
from rr.repl.expressions import Evaluator, ExpressionError, parse_count, parse_int
from rr.repl.formatting import Printer, colour_wanted, hexdump_rows, plain, table
from rr.repl.instructions import boundaries, decode, direct_target, find_word, is_call
from rr.repl.symbols import SymbolError, SymbolTable

DEMO = BIN / "demo.elf"


@pytest.fixture(scope="module")
def symbols():
    return SymbolTable.from_elf(DEMO.read_bytes(), "demo.elf")


# --- symbols ------------------------------------------------------------------------------

def test_symbols_name_addresses(symbols):
    push = elf_symbol(DEMO, "list_push")
    assert symbols.describe(push) == "list_push"
    assert symbols.describe(push + 0x1e) == "list_push+0x1e"
    assert symbols.function_at(push + 2).name == "list_push"
    head = elf_symbol(DEMO, "shared_list")
    assert symbols.describe(head + 8) == "shared_list+0x8"
    assert symbols.get("shared_list").size == 16 and symbols.get("shared_list").kind == "object"
    assert symbols.function_at(head) is None            # data is not a function


def test_labels_name_what_follows_them_in_their_section(symbols):
    entry = elf_symbol(DEMO, "trap_entry")              # assembly, size 0
    assert symbols.describe(entry) == "trap_entry"
    assert symbols.describe(entry + 0x10) == "trap_entry+0x10"
    assert symbols.describe(0x80000000) == ""           # before the image
    assert symbols.describe(0x90000000) == ""
    assert symbols.describe(elf_symbol(DEMO, "_start")) == "_start"   # not __image_start


def test_symbols_from_a_non_elf():
    with pytest.raises(SymbolError, match="not an ELF file"):
        SymbolTable.from_elf(b"\x00" * 64, "x.bin")
    empty = SymbolTable()
    assert not empty and empty.describe(0x80200000) == "" and empty.names() == []


def test_code_ranges_hold_the_sret(symbols):
    found = [code.address + at for code in symbols.code for at in find_word(code.data, 0x10200073)]
    assert found and all(symbols.describe(a).startswith("trap_return") for a in found)


# --- expressions --------------------------------------------------------------------------

def test_numbers():
    assert parse_int("1000") == 1000 and parse_int("0x3e8") == 1000 and parse_int("1_000") == 1000
    assert parse_int("-5") == -5 and parse_int("+0x10") == 16
    with pytest.raises(ExpressionError, match="not a valid count"):
        parse_int("12abc", "count")
    with pytest.raises(ExpressionError, match="is negative"):
        parse_count("-1")


def test_address_expressions(symbols):
    registers = {"sp": 0x1000, "pc": 0x80200000, "a0": 7, "sepc": 0x80200818}
    evaluate = Evaluator(symbols, lambda name: registers[name]).address
    head = elf_symbol(DEMO, "shared_list")
    assert evaluate("shared_list") == head
    assert evaluate("shared_list+8") == head + 8
    assert evaluate("shared_list + 0x8 - 4") == head + 4
    assert evaluate("$sp-16") == 0xFF0
    assert evaluate("sp") == 0x1000                      # bare register, no such symbol
    assert evaluate("$sepc") == 0x80200818
    assert evaluate("0-1") == (1 << 64) - 1
    for bad, message in (("nosuch", "no symbol named 'nosuch'"), ("$q9", "unknown register"),
                         ("shared_list+", "cannot read the address"), ("", "missing"),
                         ("1 2", "cannot read the address")):
        with pytest.raises(ExpressionError, match=message):
            evaluate(bad)
    with pytest.raises(ExpressionError, match="no symbols loaded"):
        Evaluator(SymbolTable(), lambda name: 0).address("main")


# --- instructions ------------------------------------------------------------------------------

def _text_instructions():
    from elftools.elf.elffile import ELFFile

    with open(DEMO, "rb") as f:
        text = ELFFile(f).get_section_by_name(".text")
        data, address = text.data(), text["sh_addr"]
    engine = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    for start in boundaries(data, address):
        raw = data[start - address:start - address + (4 if data[start - address] & 3 == 3 else 2)]
        insn = next(engine.disasm(raw, start, 1), None)
        if insn is not None:
            yield start, raw, insn


def test_calls_and_targets_agree_with_capstone():
    calls = targets = 0
    for address, raw, insn in _text_instructions():
        bits, size = int.from_bytes(raw, "little"), len(raw)
        ops = [op.strip() for op in insn.op_str.split(",")]
        if insn.mnemonic in ("jal", "jalr", "c.jalr"):
            expected = insn.mnemonic == "c.jalr" or len(ops) == 1 and insn.mnemonic == "jal" \
                or ops[0] == "ra"
            assert is_call(bits, size) == expected, (hex(address), insn.mnemonic, insn.op_str)
            calls += expected
        else:
            assert not is_call(bits, size), (hex(address), insn.mnemonic)
        if insn.mnemonic in ("jal", "c.j", "c.beqz", "c.bnez", "beq", "bne", "blt", "bge", "bltu",
                             "bgeu", "j", "beqz", "bnez"):
            offset = int(ops[-1], 0)
            assert direct_target(bits, size, address) == (address + offset) % (1 << 64), \
                (hex(address), insn.mnemonic, insn.op_str)
            targets += 1
    assert calls > 20 and targets > 50


def test_decode_undecodable_bytes():
    insn = decode(b"\x00\x00\x00\x00", 0x1000)
    assert insn.size == 4 and insn.mnemonic


# --- output --------------------------------------------------------------------------------------

def test_hexdump_rows():
    rows = [plain(row) for row in hexdump_rows(0x80202000, bytes(range(0x41, 0x41 + 20)))]
    assert rows[0] == ("0x0000000080202000  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  "
                       "|ABCDEFGHIJKLMNOP|")
    assert rows[1] == "0x0000000080202010  51 52 53 54" + " " * 39 + "|QRST|"
    assert len(rows[1].split("|")[0]) == len(rows[0].split("|")[0])


def test_table_pads_columns_and_keeps_styles():
    rows = table([["a", ("num", "1"), "x"], ["bbb", ("num", "100"), ""]], "<>")
    assert [plain(row) for row in rows] == ["a      1  x", "bbb  100"]
    assert ("num", "1") in rows[0]


def test_printer_plain_and_colour():
    stream = io.StringIO()
    Printer(colour=False, stream=stream).line("pc ", ("addr", "0x10"))
    assert stream.getvalue() == "pc 0x10\n"


def test_colour_only_on_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour_wanted(Tty()) and not colour_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted(Tty())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not colour_wanted(Tty())


def test_value_changes():
    old = (0x1000).to_bytes(8, "little") + (3).to_bytes(8, "little")
    new = (0x2000).to_bytes(8, "little") + (3).to_bytes(8, "little")
    assert value_changes(0x100, 16, 0x100, old, new) == [(0x100, "0x1000", "0x2000")]
    assert value_changes(0x100, 16, 0x108, old, old) == [(0x108, "0x3", "0x3")]
    assert value_changes(0x100, 4, 0x100, b"\x01\0\0\0", b"\x02\0\0\0") == [(0x100, "0x1", "0x2")]
    assert value_changes(0x100, 8, 0x100, None, new[:8]) == [(0x100, "?", "0x2000")]


def test_cause_names():
    assert cause_name(13) == "load page fault"
    assert cause_name((1 << 63) | 5) == "supervisor timer interrupt"
    assert cause_name(42) == "exception 42"


def test_command_table_is_consistent():
    names = [name for cmd in COMMANDS for name in (cmd.name, *cmd.aliases)]
    assert len(names) == len(set(names)) == len(all_names())
    for alias, name in (("s", "step"), ("rs", "rstep"), ("n", "next"), ("rn", "rnext"),
                        ("c", "continue"), ("rc", "rcontinue"), ("b", "break"), ("d", "delete"),
                        ("x", "mem"), ("q", "quit"), ("lw", "last-write"), ("p", "print")):
        assert lookup(alias).name == name
    assert all(cmd.summary and cmd.usage for cmd in COMMANDS)


def test_history_path(monkeypatch, tmp_path):
    monkeypatch.setenv("RRVM_HISTORY", str(tmp_path / "h"))
    assert history_path() == tmp_path / "h"
    monkeypatch.delenv("RRVM_HISTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert history_path() == tmp_path / "state" / "rrvm" / "repl_history"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_path() == Path(tmp_path) / ".local" / "state" / "rrvm" / "repl_history"
