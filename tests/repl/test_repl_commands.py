"""`rrvm repl TRACE -c "..."`: every command's output, plain text, on traces of our guests."""

from __future__ import annotations

import re

import pytest

from repl_helpers import (BIN, POISON, checked_c, crashing_demo, elf_symbol, run_c,
                          timer_recording, write_rows)

LOCATION = re.compile(r"^icount (\d+)  pc (0x[0-9a-f]+)(?: <([^>]+)>)?  (.+)$", re.M)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return crashing_demo(tmp_path_factory).trace


@pytest.fixture(scope="module")
def timer(tmp_path_factory):
    return timer_recording(tmp_path_factory).trace


def locations(text: str) -> list[tuple[int, int, str]]:
    return [(int(m.group(1)), int(m.group(2), 16), m.group(3) or "")
            for m in LOCATION.finditer(text)]


def test_output_is_plain_and_goto_regs(timer):
    out = checked_c(timer, "goto 1000; regs")
    assert "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0].startswith("icount 1000  pc 0x80200020 <_start+0x20>  bgeu")
    assert lines[1].startswith("pc 0x80200020 <_start+0x20>  priv S  icount 1000")
    assert len(lines) == 10
    assert re.match(r"^zero 0x0{16}    ra 0x[0-9a-f]{16}    sp 0x[0-9a-f]{16}    gp ", lines[2])
    names = re.findall(r"\b([a-z]+\d*) 0x", "\n".join(lines[2:]))
    assert names[:8] == ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2"] and len(names) == 32


def test_regs_by_name_and_print(timer):
    out = checked_c(timer, "goto 1000; regs pc $sp a0; print $sp+16; print ticks; p 0x10+0x20")
    lines = out.splitlines()[1:]
    assert lines[0].startswith("pc      0x0000000080200020") and "<_start+0x20>" in lines[0]
    assert lines[1].startswith("sp      0x")
    assert lines[2].startswith("a0      0x")
    sp = int(lines[1].split()[1], 16)
    assert lines[3].startswith(f"{sp + 16:#x}  {sp + 16}")
    assert lines[4].startswith(f"{elf_symbol(BIN / 'timer.elf', 'ticks'):#x}") and "<ticks>" in lines[4]
    assert lines[5] == "0x30  48"


def test_step_rstep_and_aliases(timer):
    out = checked_c(timer, "step; s 9; rstep 5; rs; stepi 2; goto +10; goto -3")
    assert [icount for icount, _, _ in locations(out)] == [1, 10, 5, 4, 6, 16, 13]


def test_next_steps_over_a_call_and_rnext_comes_back(timer):
    # main+24: jal uart_puts ("timer: start"), after c.sdsp s5 at main+22.
    out = checked_c(timer, "break main+24; continue; next; rnext; rn; n; n; n; rn; rn; step")
    stops = locations(out)
    call = stops[0]
    assert call[2] == "main+0x18"
    assert stops[1][2] == "main+0x1c" and stops[1][0] > call[0] + 100     # all of uart_puts
    assert stops[2] == call                                                # back at the call
    assert stops[3][2] == "main+0x16" and stops[3][0] == call[0] - 1
    assert stops[4] == call
    assert stops[5] == stops[1]
    assert stops[6][2] == "main+0x20" and stops[6][0] == stops[1][0] + 1
    assert stops[7] == stops[1] and stops[8] == call
    assert stops[9][2] == "uart_puts" and stops[9][0] == call[0] + 1       # step enters


def test_continue_rcontinue_breakpoints_info_delete(timer):
    out = checked_c(timer, "b trap_handler; break uart_puts; info breakpoints; c; c; rc; "
                           "d 2; info b; c; c; delete; info b; c")
    assert "Breakpoint 1 at 0x" in out and "<trap_handler>" in out
    table = out.split("Breakpoint 2 at")[1]
    assert re.search(r"num\s+type\s+address\s+what\s+hits", table)
    assert re.search(r"1\s+breakpoint\s+0x[0-9a-f]+\s+trap_handler\s+0", table)
    stops = locations(out)
    # uart_puts ("timer: start") runs before the first timer interrupt.
    assert stops[0][2] == "uart_puts" and stops[1][2] == "trap_handler"
    assert stops[2] == stops[0]
    assert "deleted 2" in out
    assert stops[3] == stops[1] and stops[4][2] == "trap_handler" and stops[4][0] > stops[3][0]
    assert "Breakpoint 1, 0x" in out
    assert "deleted all breakpoints and watchpoints (1)" in out
    assert "no breakpoints or watchpoints" in out
    assert "end of recorded history: the guest exited (poweroff, code 0" in out


def test_watchpoints_write_read_access(demo):
    head = elf_symbol(BIN / "demo.elf", "shared_list")
    out = checked_c(demo, "goto 20000; watch shared_list; c; c; rc; d; watch -r shared_list+8 8; c; "
                          "d; watch -a shared_list 8; c; info b")
    assert f"Watchpoint 1 (write) on {head:#x} <shared_list>, 16 bytes" in out
    writes = re.findall(r"Watchpoint 1 \(write shared_list\), the write below: "
                        r"(shared_list(?:\+0x8)?) (0x[0-9a-f]+) -> (0x[0-9a-f]+)", out)
    assert len(writes) == 3
    stops = locations(out)[1:]
    assert 20000 < stops[0][0] < stops[1][0] and stops[2][0] < stops[1][0]
    assert stops[0][2].startswith(("list_push", "list_pop"))
    assert re.search(r"Watchpoint 2 \(read shared_list\+8\), the read below: shared_list\+0x8 "
                     r"\(value 0x[0-9a-f]+\)", out)
    assert re.search(r"Watchpoint 3 \(access shared_list\), the (read|write) below", out)
    assert re.search(r"3\s+access watch\s+0x[0-9a-f]+\s+shared_list \(8 bytes\)\s+1", out)


def test_csrs_decoded(demo):
    out = checked_c(demo, "goto end; csrs")
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert list(rows) == ["sstatus", "sie", "stvec", "sscratch", "sepc", "scause", "stval", "sip",
                          "satp"]
    assert re.search(r"SIE=[01] SPIE=[01] SPP=[SU] SUM=[01] MXR=[01]", rows["sstatus"])
    assert "direct, base <trap_entry>" in rows["stvec"]
    assert rows["scause"].endswith("load page fault")
    assert "<list_pop+0x" in rows["sepc"]
    assert rows["stval"].split()[1] == f"{POISON:#018x}"
    assert re.search(r"Sv39, asid 0, root table at 0x[0-9a-f]+000$", rows["satp"])


def test_mem_hex_and_ascii(timer):
    out = checked_c(timer, "goto end; mem 0x80200000 40; x _start+4 4; mem 0x1000 16")
    lines = out.splitlines()[2:]
    assert lines[0] == "<_start>:"
    assert re.match(r"^0x0000000080200000  (?:[0-9a-f]{2} ){8} (?:[0-9a-f]{2} ){7}[0-9a-f]{2}  \|.{16}\|$",
                    lines[1])
    assert lines[3].startswith("0x0000000080200020  ") and lines[3].endswith("|")
    assert len(lines[3].split("|")[1]) == 8
    assert lines[4] == "<_start+0x4>:"
    assert lines[5].startswith("0x0000000080200004  ")
    assert lines[6].startswith("0x1000: not readable (")


def test_mem_reads_through_the_page_tables(demo):
    # The demo runs with Sv39 on; a non-canonical address does not translate.
    out = checked_c(demo, f"goto end; x {POISON:#x} 8; mem shared_list 16")
    assert f"{POISON:#x}: not readable (non-canonical address" in out
    assert "<shared_list>:" in out


def test_disas_marks_the_pc_with_symbols(demo):
    out = checked_c(demo, "goto end; disas; disas list_pop 4; disas list_push 12")
    lines = out.splitlines()[2:]
    assert lines[0] == "<poweroff_fail>:"
    current = [line for line in lines if line.startswith("=> ")]
    assert len(current) == 1 and "<+18>" in current[0]
    pop = lines[lines.index("<list_pop>:"):lines.index("<list_push>:")]
    assert len(pop) == 5 and pop[1].startswith("   0x8020080a <+0>")
    assert any("jal" in line and "# 0x" in line and "<" in line.split("#")[1] for line in lines)


def test_where_in_and_out_of_a_trap_handler(demo, timer):
    out = checked_c(demo, "goto end; where")
    assert re.search(r"^trap    in a trap handler, entered at instruction \d+: load page fault "
                     r"\(scause 0xd\)$", out, re.M)
    assert re.search(rf"^        sepc 0x[0-9a-f]+ <list_pop\+0x[0-9a-f]+>  stval {POISON:#x}$", out,
                     re.M)
    assert re.search(r"^priv    S \(supervisor\)$", out, re.M)
    out = checked_c(timer, "goto 1000; where; goto end; where")
    assert "trap    not in a trap handler (no trap taken before here)" in out
    assert re.search(r"not in a trap handler \(last trap: supervisor timer interrupt "
                     r"\(scause 0x8000000000000005\) at instruction \d+, returned with sret at \d+\)",
                     out)
    assert re.search(r"^icount  10\d\d\d of 10\d\d\d \(the end: the guest exited \(poweroff", out,
                     re.M)


def test_events_and_goto_event(demo):
    out = checked_c(demo, "events; goto event 0; events 1")
    assert out.startswith("2 events in the trace; showing 0 to 1:\n  --> now: instruction 0\n")
    assert re.search(r"^#0 +\d+ wall_clock_read pc=- ns=\d+$", out, re.M)
    assert re.search(r"^#1 +\d+ guest_exit +pc=0x[0-9a-f]+ kind='fail' code=1$", out, re.M)
    icount = int(re.search(r"^event 0: (\d+) wall_clock_read", out, re.M).group(1))
    assert locations(out)[0][0] == icount
    assert locations(out)[0][2].startswith("rtc_read_ns")
    proc = run_c(demo, "goto event 9")
    assert proc.returncode == 1
    assert proc.stdout.strip() == ("goto: there is no event 9: the trace has 2 (numbered 0 to 1)")


def test_console_marks_now(timer):
    out = checked_c(timer, "goto end; goto 9000; console; console all")
    first = out.split("-------- now")[0].splitlines()[3:]
    assert first[:3] == ["timer: start", "tick 1", "tick "]
    marker = re.search(r"^-------- now: instruction 9000 \((\d+) more bytes later\) --------$", out,
                       re.M)
    assert marker and int(marker.group(1)) > 0
    assert out.rstrip().endswith("timer: shutting down via SBI SRST")
    out = checked_c(timer, "console")
    assert out.startswith("(no output before this point)\n-------- now: instruction 0 ")


def test_when_lists_every_write_with_values(demo):
    out = checked_c(demo, "goto 50000; when shared_list; where")
    header = re.search(r"^(\d+) writes to shared_list \(0x[0-9a-f]+, 16 bytes\) in the trace:$", out,
                       re.M)
    rows = write_rows(out)
    assert header and int(header.group(1)) == len({row.icount for row in rows})
    assert [row.icount for row in rows] == sorted(row.icount for row in rows)
    functions = {row.function.split("+")[0] for row in rows}
    assert {"list_push", "list_pop"} <= functions
    heads = [row for row in rows if row.where == "shared_list"]
    for before, after in zip(heads, heads[1:]):          # values chain: each old is the last new
        assert after.old == before.new
    assert heads[-1].new == POISON and heads[-1].function.startswith("list_pop")
    assert "icount  50000 of" in out                     # the position is kept


def test_last_write(demo):
    out = checked_c(demo, "goto end; last-write shared_list 8; lw shared_list+8 8; goto 0; "
                          "last-write shared_list")
    rows = write_rows(out)
    assert rows[0].new == POISON and rows[0].where == "shared_list"
    assert rows[1].where == "shared_list+0x8"
    assert "nothing wrote shared_list before instruction 0" in out


def test_info_and_help(demo):
    out = checked_c(demo, "info; help; help when; help rn")
    assert re.search(r"^length +[\d,]+ instructions$", out, re.M)
    assert re.search(r"^exit +fail, code 1, exit status 1$", out, re.M)
    assert "now          instruction 0" in out
    for usage in ("step [N]", "rstep [N]", "next [N]", "rnext [N]", "continue", "rcontinue",
                  "goto ICOUNT", "break ADDR|SYMBOL", "watch [-r|-a] [-p] ADDR|SYMBOL [LEN]",
                  "delete [N]", "regs", "csrs", "mem ADDR [LEN]", "disas [ADDR] [N]", "where",
                  "events", "console", "when [-p] ADDR|SYMBOL [LEN]",
                  "last-write [-p] ADDR|SYMBOL [LEN]",
                  "info", "help [CMD]", "quit"):
        assert re.search(rf"^{re.escape(usage)}", out, re.M), usage
    assert "when [-p] ADDR|SYMBOL [LEN]\n  every write to memory" in out
    assert "rnext [N]\n  back one instruction" in out and "aliases: rn, rni, reverse-nexti" in out


def test_help_for_every_command(timer):
    from rr.repl.commands import COMMANDS

    out = checked_c(timer, "; ".join(f"help {cmd.aliases[0] if cmd.aliases else cmd.name}"
                                      for cmd in COMMANDS))
    lines = out.splitlines()
    for cmd in COMMANDS:
        index = lines.index(cmd.usage)
        assert lines[index + 1] == f"  {cmd.summary}"


def test_quit_stops_the_script(timer):
    proc = run_c(timer, "goto 10; q; goto 20")
    assert proc.returncode == 0
    assert [icount for icount, _, _ in locations(proc.stdout)] == [10]


BAD_COMMANDS = [
    ("frobnicate", "unknown command 'frobnicate'; `help` lists the commands"),
    ("goto banana", "goto: 'banana': not a valid instruction count (examples: 1000, 0x3e8)"),
    ("goto", "goto: usage: goto ICOUNT | +N | -N | event N | start | end"),
    ("step -2", "step: instruction count -2 is negative"),
    ("rstep 1 2", "rstep: usage: rstep [N]"),
    ("break", "break: usage: break ADDR|SYMBOL (e.g. break list_push, break 0x80200818)"),
    ("break nosuch", "break: no symbol named 'nosuch'"),
    ("watch -q x", "watch: unknown option '-q'; usage: watch [-r|-a] [-p] ADDR|SYMBOL [LEN]"),
    ("delete 42", "delete: no breakpoint or watchpoint 42 (set: none)"),
    ("mem", "mem: usage: mem ADDR [LEN]"),
    ("x shared_list+", "mem: cannot read the address 'shared_list+'"),
    ("disas 0x10", "disas: nothing readable at 0x10"),
    ("regs q7", "regs: unknown register 'q7'"),
    ("info frob", "info: unknown info topic 'frob' (known: breakpoints, symbol)"),
    ("help frob", "help: no command 'frob'; `help` lists them"),
    ("when shared_list 0", "when: a length of 0 bytes watches nothing"),
    ("last-write", "last-write: usage: last-write [-p] ADDR|SYMBOL [LEN]"),
    ("when -q shared_list", "when: unknown option '-q'; usage: when [-p] ADDR|SYMBOL [LEN]"),
    ("continue now", "continue: usage: continue"),
    ("print $nope", "print: unknown register '$nope'"),
    ("console later", "console: usage: console [all]"),
]


def test_bad_commands_give_one_line_each(demo):
    proc = run_c(demo, "; ".join(command for command, _ in BAD_COMMANDS))
    assert proc.returncode == 1
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == [message for _, message in BAD_COMMANDS]


def test_script_goes_on_after_an_error(timer):
    proc = run_c(timer, "frob; goto 7")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith("unknown command")
    assert locations(proc.stdout)[0][0] == 7


def test_symbols_option(timer, tmp_path):
    out = checked_c(timer, "goto 1000; where", "--symbols", str(BIN / "timer.elf"))
    assert "<_start+0x20>" in out
    bogus = tmp_path / "bogus.elf"
    bogus.write_bytes(b"not an elf")
    proc = run_c(timer, "where", "--symbols", str(bogus))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"rrvm: error: {bogus}: not an ELF file"
