"""Where two recordings of the same guest part: inputs, state, control flow.

Two traces of one image on one board are the same run until an input
differs; from there their states may part. Reported, in order:

1. the first input event that differs (kind, icount, values), from the two
   event lists;
2. the first instruction after which the states differ, found by bisection
   over state digests (rr.monitor.state_digest: registers, CSRs, devices,
   RAM): both replays are taken to the same instruction count and their
   digests compared, O(log n) seeks instead of a lockstep over n
   instructions; with the registers, memory words and devices that differ
   just after it;
3. the first instruction count at which the pcs differ, when that is later:
   from the first state difference on, both replays run windows of history
   with a code hook noting the pc of every instruction (rr.analysis.
   register_writes.executed_pcs), and the windows are compared;
   at most MAX_FLOW_SCAN instructions after the first state difference;
4. the first trap taken differently (another count, cause or interrupted
   pc): for a preemptive kernel, the first schedule difference. Each run is
   replayed once with a code hook at the trap vector, over the whole run.

Traces of different images or boards are refused: their states differ from
the first instruction, which says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from rr.analysis.register_writes import executed_pcs, instruction_at
from rr.analysis.semantics import semantics
from rr.analysis.subject import Subject
from rr.errors import RrError
from rr.log.events import Event, format_event
from rr.monitor.constants import GPR_NAMES
from rr.monitor.cpu import CSR_IDS
from rr.monitor.riscv import cause_name
from rr.monitor.state_digest import register_state, state_digest

if TYPE_CHECKING:
    from rr.monitor.board import Board

FIRST_FLOW_WINDOW = 4096
FLOW_WINDOW_GROWTH = 8
MAX_FLOW_WINDOW = 4_000_000
# The pcs are compared this far after the first state difference at most (a hooked replay
# of both runs costs about 3.4 us an instruction; the trap comparison has no limit).
MAX_FLOW_SCAN = 8_000_000
MAX_WORDS_SHOWN = 8
WORD = 8
# Board settings that are inputs (recorded), not the board: compared as inputs.
BOARD_INPUTS = ("rng_seed",)


class DiffRefused(RrError):
    """The two traces are not of the same guest on the same board."""


@dataclass(frozen=True)
class InputDifference:
    index: int                   # the event's number in both traces
    good: Event | None           # None: that trace has no more events
    bad: Event | None

    def text(self) -> str:
        return (f"first input difference: event #{self.index}\n"
                f"  good: {_event(self.good)}\n  bad:  {_event(self.bad)}")

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "good": _event_json(self.good),
                "bad": _event_json(self.bad)}


@dataclass(frozen=True)
class BoardInputDifference:
    """A recorded input held by the board configuration rather than the event stream: the
    64 bytes of entropy of --rng, which the guest reads from its device tree at boot."""

    setting: str
    good: Any
    bad: Any

    def text(self) -> str:
        return (f"first input difference: the board's {self.setting} (the device tree's "
                f"/chosen/rng-seed, there from instruction 0)\n"
                f"  good: {_shown(self.good)}\n  bad:  {_shown(self.bad)}")

    def to_json(self) -> dict[str, Any]:
        return {"setting": self.setting, "good": _json_value(self.good),
                "bad": _json_value(self.bad)}


def _shown(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else repr(value)


def _json_value(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class StateDifference:
    position: int                # the first instruction count at which the states differ
    icount: int | None           # the instruction before it (None: they differ at 0)
    pc: int | None
    function: str
    instruction: str
    registers: tuple[tuple[str, int, int], ...]     # (name, good, bad) just after it
    memory: tuple[tuple[int, int, int], ...]        # (address, good word, bad word)
    memory_words: int                               # how many words differ in all
    devices: tuple[str, ...]                        # devices whose state differs

    def text(self) -> str:
        if self.icount is None:
            lines = [f"first state difference: at instruction {self.position}, before any "
                     "instruction ran (an input delivered there)"]
        else:
            lines = [f"first state difference: at instruction {self.position}, after "
                     f"instruction {self.icount}, pc {self.pc:#x} <{self.function}>  "
                     f"{self.instruction}"]
        for name, good, bad in self.registers:
            lines.append(f"  {name:<8} good {good:#x}  bad {bad:#x}")
        for address, good, bad in self.memory:
            lines.append(f"  mem {address:#x}  good {good:#x}  bad {bad:#x}")
        if self.memory_words > len(self.memory):
            lines.append(f"  ... {self.memory_words} words of RAM differ in all")
        if self.devices:
            lines.append(f"  device state differs: {', '.join(self.devices)}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "icount": self.icount, "pc": self.pc,
                "function": self.function,
                "instruction": self.instruction,
                "registers": [{"name": n, "good": g, "bad": b} for n, g, b in self.registers],
                "memory": [{"address": a, "good": g, "bad": b} for a, g, b in self.memory],
                "memory_words": self.memory_words, "devices": list(self.devices)}


@dataclass(frozen=True)
class FlowDifference:
    icount: int                  # the first instruction count where the pcs differ
    good_pc: int | None          # None: that trace had ended
    bad_pc: int | None
    good_function: str
    bad_function: str

    def text(self) -> str:
        return (f"first control-flow difference: instruction {self.icount}\n"
                f"  good: {_pc(self.good_pc, self.good_function)}\n"
                f"  bad:  {_pc(self.bad_pc, self.bad_function)}")

    def to_json(self) -> dict[str, Any]:
        return {"icount": self.icount, "good_pc": self.good_pc, "bad_pc": self.bad_pc,
                "good_function": self.good_function, "bad_function": self.bad_function}


@dataclass(frozen=True)
class TrapEntry:
    """A trap taken: the count of the handler's first instruction, the cause, where from."""

    icount: int
    scause: int
    sepc: int
    function: str

    def text(self) -> str:
        return (f"instruction {self.icount}: {cause_name(self.scause)} from pc {self.sepc:#x} "
                f"<{self.function}>")

    def to_json(self) -> dict[str, Any]:
        return {"icount": self.icount, "scause": self.scause, "sepc": self.sepc,
                "function": self.function}


@dataclass(frozen=True)
class TrapDifference:
    index: int                   # the trap's number in both runs (0: the first taken)
    good: TrapEntry | None       # None: that run took no more traps
    bad: TrapEntry | None

    def text(self) -> str:
        return (f"first trap difference (where an interrupt or exception was taken): "
                f"trap #{self.index}\n  good: {_trap(self.good)}\n  bad:  {_trap(self.bad)}")

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index,
                "good": None if self.good is None else self.good.to_json(),
                "bad": None if self.bad is None else self.bad.to_json()}


def _trap(entry: TrapEntry | None) -> str:
    return "(no more traps)" if entry is None else entry.text()


@dataclass(frozen=True)
class DiffReport:
    good_length: int
    bad_length: int
    inputs: InputDifference | BoardInputDifference | None
    state: StateDifference | None
    flow: FlowDifference | None
    traps: TrapDifference | None = None

    @property
    def same(self) -> bool:
        return self.inputs is None and self.state is None and self.flow is None \
            and self.traps is None and self.good_length == self.bad_length

    def text(self) -> str:
        lines = [f"good: {self.good_length} instructions, bad: {self.bad_length} instructions"]
        if self.same:
            lines.append("no difference: same inputs, same states, same control flow")
            return "\n".join(lines)
        lines.append(self.inputs.text() if self.inputs is not None
                     else "no input difference")
        lines.append(self.state.text() if self.state is not None else
                     f"no state difference up to instruction "
                     f"{min(self.good_length, self.bad_length)}")
        if self.flow is not None:
            lines.append(self.flow.text())
        elif self.state is not None:
            scanned = min(self.good_length, self.bad_length, self.state.position + MAX_FLOW_SCAN)
            lines.append(f"the control flow is the same up to instruction {scanned}"
                         + (" (the end of the shorter trace)"
                            if scanned == min(self.good_length, self.bad_length)
                            else f" (pcs are compared {MAX_FLOW_SCAN:,} instructions after "
                                 "the first state difference at most)"))
        if self.traps is not None:
            lines.append(self.traps.text())
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"good_length": self.good_length, "bad_length": self.bad_length,
                "same": self.same,
                "inputs": None if self.inputs is None else self.inputs.to_json(),
                "state": None if self.state is None else self.state.to_json(),
                "flow": None if self.flow is None else self.flow.to_json(),
                "traps": None if self.traps is None else self.traps.to_json()}


def _event(event: Event | None) -> str:
    return "(no more events)" if event is None else format_event(event).strip()


def _event_json(event: Event | None) -> dict[str, Any] | None:
    if event is None:
        return None
    result: dict[str, Any] = {"kind": event.KIND}
    for item in fields(event):
        result[item.name] = _json_value(getattr(event, item.name))
    return result


def _pc(pc: int | None, function: str) -> str:
    return "(ended)" if pc is None else f"pc {pc:#x} <{function}>"


# --- comparing ----------------------------------------------------------------

def check_comparable(good: Subject, bad: Subject) -> None:
    """Refuse traces of different guests or boards, in one line saying what differs."""
    a, b = good.reader.header, bad.reader.header
    for what, x, y in (("guest image", a.image, b.image), ("initrd", a.initrd, b.initrd),
                       ("disk image", a.disk, b.disk)):
        if (x is None) != (y is None) or (x is not None and x.sha256 != y.sha256):
            raise DiffRefused(f"the traces are of different {what}s ({_file(x)} and "
                              f"{_file(y)}): diff compares two runs of one guest")
    board_a = {k: v for k, v in a.board.items() if k not in BOARD_INPUTS}
    board_b = {k: v for k, v in b.board.items() if k not in BOARD_INPUTS}
    if a.clock_mode != b.clock_mode:
        board_a["clock"], board_b["clock"] = a.clock_mode, b.clock_mode
    for key in sorted(set(board_a) | set(board_b)):
        if board_a.get(key) != board_b.get(key):
            raise DiffRefused(f"the traces are of different boards ({key}: "
                              f"{board_a.get(key)!r} and {board_b.get(key)!r}): diff compares "
                              "two runs of one guest on one board")
    same_seed = all(a.board.get(key) == b.board.get(key) for key in BOARD_INPUTS)
    if same_seed and (a.dtb is None) != (b.dtb is None) or \
            same_seed and a.dtb is not None and a.dtb.sha256 != b.dtb.sha256:
        raise DiffRefused(f"the traces are of different device trees ({_file(a.dtb)} and "
                          f"{_file(b.dtb)}): diff compares two runs of one guest on one board")


def _file(embedded) -> str:
    return "none" if embedded is None else f"{embedded.name or 'embedded'} " \
                                           f"sha256 {embedded.sha256[:12]}"


def first_input_difference(good: Subject, bad: Subject
                           ) -> InputDifference | BoardInputDifference | None:
    for setting in BOARD_INPUTS:
        x, y = good.reader.header.board.get(setting), bad.reader.header.board.get(setting)
        if x != y:
            return BoardInputDifference(setting, x, y)
    a = list(good.timeline.session.inputs.events)
    b = list(bad.timeline.session.inputs.events)
    for index in range(max(len(a), len(b))):
        x = a[index] if index < len(a) else None
        y = b[index] if index < len(b) else None
        if x != y:
            return InputDifference(index, x, y)
    return None


def _digest_at(subject: Subject, icount: int) -> str:
    subject.timeline.seek(icount, subject.cancel)
    return state_digest(subject.timeline.board)


def first_state_difference(good: Subject, bad: Subject, end: int) -> StateDifference | None:
    """Bisection: the states agree at ``low`` and differ at ``high``."""
    if _digest_at(good, end) == _digest_at(bad, end):
        return None
    low, high = 0, end
    if _digest_at(good, 0) != _digest_at(bad, 0):
        return _state_at(good, bad, 0, None, None, "")
    while high - low > 1:
        middle = (low + high) // 2
        if _digest_at(good, middle) == _digest_at(bad, middle):
            low = middle
        else:
            high = middle
    good.timeline.seek(low, good.cancel)
    pc = good.cpu.pc
    raw = instruction_at(good.timeline, pc)
    text = semantics(raw).text if raw is not None else "?"
    return _state_at(good, bad, high, low, pc, text)


def _state_at(good: Subject, bad: Subject, high: int, low: int | None, pc: int | None,
              text: str) -> StateDifference:
    good.timeline.seek(high, good.cancel)
    bad.timeline.seek(high, bad.cancel)
    board_a, board_b = good.timeline.board, bad.timeline.board
    regs_a, regs_b = register_state(board_a), register_state(board_b)
    registers = []
    for name in ("pc", "priv"):
        if regs_a[name] != regs_b[name]:
            registers.append((name, regs_a[name], regs_b[name]))
    for n, (x, y) in enumerate(zip(regs_a["x"], regs_b["x"])):
        if x != y:
            registers.append((GPR_NAMES[n], x, y))
    for name, value in regs_a["csr"].items():
        if value != regs_b["csr"][name]:
            registers.append((name, value, regs_b["csr"][name]))
    memory, count = _memory_differences(board_a, board_b)
    devices = tuple(device.name for device, sa, sb in
                    zip(board_a.bus.devices, board_a.get_state()["devices"],
                        board_b.get_state()["devices"]) if sa != sb)
    function = good.function(pc) if pc is not None else ""
    return StateDifference(high, low, pc, function, text, tuple(registers), memory, count,
                           devices)


def _memory_differences(board_a, board_b) -> tuple[tuple[tuple[int, int, int], ...], int]:
    ram_a, ram_b = board_a.ram.map, board_b.ram.map
    if ram_a == ram_b:
        return (), 0
    base = board_a.ram.base
    shown, count = [], 0
    view_a, view_b = memoryview(ram_a), memoryview(ram_b)
    block = 1 << 16
    for start in range(0, len(ram_a), block):
        if view_a[start:start + block] == view_b[start:start + block]:
            continue
        for offset in range(start, start + block, WORD):
            x, y = view_a[offset:offset + WORD], view_b[offset:offset + WORD]
            if x != y:
                count += 1
                if len(shown) < MAX_WORDS_SHOWN:
                    shown.append((base + offset, int.from_bytes(x, "little"),
                                  int.from_bytes(y, "little")))
    return tuple(shown), count


def first_flow_difference(good: Subject, bad: Subject, start: int, end_good: int,
                          end_bad: int) -> FlowDifference | None:
    """The first instruction count from ``start`` on where the pcs differ."""
    low, window = start, FIRST_FLOW_WINDOW
    end = min(max(end_good, end_bad), start + MAX_FLOW_SCAN)
    while low < end:
        high = min(end, low + window)
        a = executed_pcs(good.timeline, low, min(high, end_good), good.cancel) \
            if low < end_good else []
        b = executed_pcs(bad.timeline, low, min(high, end_bad), bad.cancel) \
            if low < end_bad else []
        for x, y in zip(a, b):
            if x != y:
                icount = min(x[0], y[0])
                return FlowDifference(icount, x[1], y[1], good.function(x[1]),
                                      bad.function(y[1]))
        if len(a) != len(b):
            shorter, longer = (a, b) if len(a) < len(b) else (b, a)
            extra = longer[len(shorter)]
            pcs = (None, extra[1]) if shorter is a else (extra[1], None)
            return FlowDifference(extra[0], pcs[0], pcs[1],
                                  good.function(pcs[0]) if pcs[0] is not None else "",
                                  bad.function(pcs[1]) if pcs[1] is not None else "")
        low, window = high, min(window * FLOW_WINDOW_GROWTH, MAX_FLOW_WINDOW)
    return None


def trap_entries(subject: Subject) -> list[TrapEntry]:
    """Every trap the run took into the handler at stvec (as it is at the end of history),
    from one replay with a code hook there; the hook reads scause and sepc, which S-mode
    may read where the handler starts (no privilege switch under the hook)."""
    timeline, cpu = subject.timeline, subject.cpu
    timeline.seek(subject.length, subject.cancel)
    vector = cpu.csr("stvec") & ~3
    hits = timeline.all_hits([vector], probe=CsrProbe(("scause", "sepc")),
                             cancel=subject.cancel)
    return [TrapEntry(hit.icount, *hit.values, subject.function(hit.values[1]))
            for hit in hits]


@dataclass(frozen=True)
class CsrProbe:
    """CSRs read at each hit, as the hart that hit sees them (a hits.Probe: plain
    data, so a search split by segment reads them in its workers)."""

    names: tuple[str, ...]

    def read(self, board: Board) -> tuple[int, ...]:
        return tuple(board.cpu.reg(CSR_IDS[name]) for name in self.names)


def first_trap_difference(good: Subject, bad: Subject) -> TrapDifference | None:
    """The first trap taken at another count, for another cause or from another pc."""
    a, b = trap_entries(good), trap_entries(bad)
    for index in range(max(len(a), len(b))):
        x = a[index] if index < len(a) else None
        y = b[index] if index < len(b) else None
        if x is None or y is None or (x.icount, x.scause, x.sepc) != (y.icount, y.scause,
                                                                       y.sepc):
            return TrapDifference(index, x, y)
    return None


def diff(good: Subject, bad: Subject) -> DiffReport:
    """Where ``bad`` parts from ``good``; both positions are kept (the REPL's and gdb's
    ``good`` is the history they are on)."""
    check_comparable(good, bad)
    here = good.timeline.position, bad.timeline.position
    try:
        end_good, end_bad = good.length, bad.length
        inputs = first_input_difference(good, bad)
        state = first_state_difference(good, bad, min(end_good, end_bad))
        flow = traps = None
        if state is not None or end_good != end_bad:
            start = state.position if state is not None else min(end_good, end_bad)
            flow = first_flow_difference(good, bad, start, end_good, end_bad)
            traps = first_trap_difference(good, bad)
    finally:
        good.timeline.seek(here[0], good.cancel)
        bad.timeline.seek(here[1], bad.cancel)
    return DiffReport(end_good, end_bad, inputs, state, flow, traps)
