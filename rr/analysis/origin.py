"""Where a value came from: its data flow walked back instruction by instruction.

From a memory range, the last instruction that wrote it (the watchpoint
query rr.replay.queries.last_write) is a store, whose value came from the
register it stored; from a register, the last instruction that wrote it
(rr.analysis.register_writes) is a load (go on with the memory it read), an
arithmetic instruction (go on with its first source register), or an end:

- a constant in the code (lui, auipc, li, an immediate from x0), a return
  address (jal/jalr), a CSR read, the SBI's answer to an ecall;
- a device register read (a load from MMIO), named with the trace event
  that brought the value in (the console byte, the RTC read);
- memory that no instruction wrote: the loaded image (or zeros), or a
  device's DMA (virtio), named with its event when it has one;
- a register never written since the start (its boot value);
- the depth limit.

Calls and traps need nothing special: a value passed in a register is
followed into the caller, and a trap handler's save and restore of the
registers are just a store and a load. Each step is taken at its own
position (the registers and memory as the instruction saw them), so the
addresses of loads are exact. The position is kept.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rr.analysis.register_writes import RegisterWrite, last_register_write
from rr.analysis.semantics import Effect, semantics
from rr.analysis.subject import Subject
from rr.log.events import ConsoleInput, Entropy, Event, WallClockRead, format_event
from rr.monitor.constants import DMA_VIRTIO_RNG, GPR_NAMES, ORIGIN_DEPTH, ORIGIN_MAX_DEPTH
from rr.monitor.mmu import PageFault
from rr.replay import queries
from rr.repl.expressions import GPR_NUMBERS, ExpressionError

DEFAULT_DEPTH = ORIGIN_DEPTH
MAX_DEPTH = ORIGIN_MAX_DEPTH
VALUE_SIZES = (1, 2, 4, 8)
WORD = 8
MASK64 = (1 << 64) - 1
# The trace events that bring a device's values in, by device.
DEVICE_EVENTS = {"uart16550": ConsoleInput.KIND, "goldfish_rtc": WallClockRead.KIND,
                 "virtio_rng": Entropy.KIND}


class OriginError(ExpressionError):
    """An origin asked wrongly (the message is the one line the user sees)."""


class StepKind(StrEnum):
    STORE = "store"              # memory written from a register
    LOAD = "load"                # a register loaded from memory
    COMPUTE = "compute"          # a register computed from another one
    CONSTANT = "constant"        # end: a constant in the code
    LINK = "link"                # end: a return address
    CSR = "csr"                  # end: a CSR read
    SBI = "sbi"                  # end: the SBI's answer to an ecall
    DEVICE = "device"            # end: a load from a device register
    DMA = "dma"                  # end: memory a device wrote
    IMAGE = "image"              # end: memory no instruction wrote since the start
    BOOT = "boot"                # end: a register not written since the start
    ZERO = "zero"                # end: x0
    FLOAT = "float"              # end: a floating-point register (not followed)
    UNKNOWN = "unknown"          # end: the writing instruction could not be read
    DEPTH = "depth"              # end: the depth limit


@dataclass(frozen=True)
class Location:
    """A register (``register``) or a memory range (``address``, ``size``).

    ``lane`` (offset, size) is the part of a register that holds the bytes
    followed: a byte of memory stored from a register is that register's byte,
    and a load brings it back from the matching byte of the memory it reads,
    so copies (memcpy, copy_to_user) are followed byte for byte."""

    register: int | None = None
    address: int = 0
    size: int = 0
    lane: tuple[int, int] = (0, WORD)

    def describe(self, subject: Subject) -> str:
        if self.register is not None:
            return GPR_NAMES[self.register]
        label = subject.label(self.address)
        size = f"{self.size} byte{'s' if self.size != 1 else ''}"
        return f"{label} ({self.address:#x}, {size})" if label else f"{self.address:#x} ({size})"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    icount: int | None           # the instruction, before it executes (None: no instruction)
    pc: int | None
    function: str
    instruction: str
    value: int | None            # the value it produced (None: unknown)
    what: str                    # the step in words

    def to_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "icount": self.icount, "pc": self.pc,
                "function": self.function, "instruction": self.instruction,
                "value": self.value, "what": self.what}


@dataclass(frozen=True)
class OriginReport:
    target: str                  # what was asked, as typed
    location: str
    position: int
    value: int | None
    steps: tuple[Step, ...]

    @property
    def end(self) -> Step:
        return self.steps[-1]

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "location": self.location, "position": self.position,
                "value": self.value, "steps": [step.to_json() for step in self.steps],
                "end": str(self.end.kind)}

    def text(self) -> str:
        value = "?" if self.value is None else f"{self.value:#x}"
        lines = [f"origin of {self.location} at instruction {self.position}: {value}"]
        rows = [["#", "icount", "pc", "function", "instruction", "value", "what"]]
        for n, step in enumerate(self.steps):
            rows.append([str(n), "" if step.icount is None else str(step.icount),
                         "" if step.pc is None else f"{step.pc:#x}", step.function,
                         step.instruction, "" if step.value is None else f"{step.value:#x}",
                         step.what])
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = [cell.rjust(widths[i]) if i < 2 else cell.ljust(widths[i])
                     for i, cell in enumerate(row)]
            lines.append("  " + "  ".join(cells).rstrip())
        return "\n".join(lines)


def parse_target(subject: Subject, text: str, length: int | None = None) -> Location:
    """``$reg`` (a general register) or an address expression with ``length`` bytes (default:
    a data symbol's size when 1, 2, 4 or 8, else 8)."""
    text = text.strip()
    if length is not None and not 1 <= length <= WORD:
        raise OriginError(f"length {length} is out of range (1 to {WORD} bytes: one value)")
    if text.startswith("$"):
        if length is not None:
            raise OriginError(f"{text}: a register has no length")
        name = text[1:]
        if name not in GPR_NUMBERS:
            raise OriginError(f"{text} is not a general register (origin follows $a0, $sp, "
                              "$x5, ...)")
        return Location(register=GPR_NUMBERS[name])
    address = subject.evaluator.address(text)
    symbol = subject.symbols.get(text)
    size = symbol.size if symbol is not None and symbol.size in VALUE_SIZES else WORD
    return Location(address=address, size=length or size)


def check_depth(depth: int) -> int:
    if not 1 <= depth <= MAX_DEPTH:
        raise OriginError(f"depth {depth} is out of range (1 to {MAX_DEPTH})")
    return depth


def origin(subject: Subject, target: str, depth: int = DEFAULT_DEPTH,
           length: int | None = None) -> OriginReport:
    """The chain of instructions that produced the value of ``target`` (``length`` bytes of
    memory) now, newest first."""
    check_depth(depth)
    location = parse_target(subject, target, length)
    timeline = subject.timeline
    here = timeline.position
    try:
        walk = _Walk(subject)
        value = walk.value_of(location)
        steps = walk.steps(location, here, depth)
    finally:
        timeline.seek(here, subject.cancel)
    return OriginReport(target, location.describe(subject), here, value, tuple(steps))


class _Walk:
    def __init__(self, subject: Subject) -> None:
        self.subject = subject
        self.timeline = subject.timeline
        self.board = self.timeline.board

    def value_of(self, location: Location) -> int | None:
        """The location's value at the current position."""
        if location.register is not None:
            return self.board.cpu.x(location.register)
        data = self.board.memory.try_read(location.address, location.size)
        return None if data is None else int.from_bytes(data, "little")

    def steps(self, location: Location, position: int, depth: int) -> list[Step]:
        steps: list[Step] = []
        while True:
            if len(steps) >= depth:
                steps.append(self._end(StepKind.DEPTH, f"depth limit ({depth} steps) reached"))
                return steps
            self.timeline.seek(position, self.subject.cancel)
            if location.register is not None:
                step, following = self._register(location.register, position, location.lane)
            else:
                step, following = self._memory(location, position)
            steps.append(step)
            if following is None:
                return steps
            location, position = following

    # --- memory -------------------------------------------------------------
    def _memory(self, location: Location, position: int) -> tuple[Step, Any]:
        now = self.value_of(location)
        write = queries.last_write(self.timeline, location.address, location.size,
                                   self.subject.cancel)
        where = location.describe(self.subject)
        if write is not None and (write.new is None or
                                  now == int.from_bytes(write.new, "little")):
            if write.device is not None:
                return self._device_write(write, location, now), None
            return self._store(write, location, now)
        return self._unwritten(location, position, now, where, write), None

    def _store(self, write: queries.Write, location: Location, now: int | None
               ) -> tuple[Step, Any]:
        raw = write.instruction or b""
        meaning = semantics(raw) if raw else None
        where = location.describe(self.subject)
        text = meaning.text if meaning is not None else "?"
        if meaning is None or meaning.stored is None:
            if meaning is not None and meaning.float_source:
                return self._step(StepKind.FLOAT, write.icount, write.pc, text, now,
                                  f"stored {where} from a floating-point register (not "
                                  "followed)"), None
            return self._step(StepKind.UNKNOWN, write.icount, write.pc, text, now,
                              f"wrote {where}; the instruction could not be read"), None
        source = meaning.stored
        if source == 0:
            return self._step(StepKind.CONSTANT, write.icount, write.pc, text, now,
                              f"stored zero (x0) to {where}"), None
        step = self._step(StepKind.STORE, write.icount, write.pc, text, now,
                          f"stored {where} from {GPR_NAMES[source]}")
        return step, (Location(register=source, lane=self._lane(write, meaning, location)),
                      write.icount)

    def _lane(self, write: queries.Write, meaning, location: Location) -> tuple[int, int]:
        """The bytes of the stored register that landed in the followed range."""
        access = meaning.memory
        self.timeline.seek(write.icount, self.subject.cancel)
        start = (self.board.cpu.x(access.rs1) + access.offset) & MASK64
        low = max(start, location.address)
        high = min(start + access.size, location.address + location.size)
        if high <= low:
            return (0, WORD)
        return (low - start, high - low)

    def _device_write(self, write: queries.Write, location: Location, now: int | None
                      ) -> Step:
        """A device's DMA wrote the range last (during the instruction that notified it):
        the end, named with the device and, for entropy, the event holding the bytes."""
        held = None if now is None else now.to_bytes(location.size, "little")
        what = (f"{location.describe(self.subject)}: written by a device ({write.writer} "
                f"during instruction {write.icount})")
        event = self._event_for(Entropy.KIND, write.icount, held)
        if event is not None and write.device == DMA_VIRTIO_RNG:
            what += f"; entropy: {_event_words(event)}"
        return self._step(StepKind.DMA, write.icount, write.pc, "", now, what)

    def _unwritten(self, location: Location, position: int, now: int | None, where: str,
                   write: queries.Write | None) -> Step:
        """No instruction wrote the range's current value: a device, or the initial RAM."""
        held = None if now is None else now.to_bytes(location.size, "little")
        event = self._event_for(Entropy.KIND, position, held)
        if write is not None:
            what = (f"{where} changed after the store at instruction {write.icount} "
                    "without an instruction: written by a device (DMA)")
        else:
            initial = self._initial(location)
            if initial is not None and initial == now:
                return self._end(StepKind.IMAGE, f"{where}: never written since the start "
                                 "(the loaded image's contents, or zeros)", now)
            what = f"{where}: written by a device (DMA), no instruction wrote it"
        if event is not None:
            what += f"; entropy: {_event_words(event)}"
        return self._end(StepKind.DMA, what, now)

    def _initial(self, location: Location) -> int | None:
        """The range's value at the start of history (through today's mapping)."""
        memory = self.board.memory
        try:
            paddr = memory.translate(location.address)
        except PageFault:
            return None
        here = self.timeline.position
        self.timeline.seek(self.timeline.begin, self.subject.cancel)
        data = self.board.cpu.read_phys_small(paddr, location.size)
        self.timeline.seek(here, self.subject.cancel)
        return None if data is None else int.from_bytes(data, "little")

    # --- registers ----------------------------------------------------------
    def _register(self, register: int, position: int,
                  lane: tuple[int, int] = (0, WORD)) -> tuple[Step, Any]:
        name = GPR_NAMES[register]
        if register == 0:
            return self._end(StepKind.ZERO, "x0 is always zero", 0), None
        write = last_register_write(self.timeline, register, position, self.subject.cancel)
        if write is None:
            self.timeline.seek(self.timeline.begin, self.subject.cancel)
            return self._end(StepKind.BOOT, f"{name} was not written since the start: its "
                             "value at boot", self.board.cpu.x(register)), None
        self.timeline.seek(write.icount, self.subject.cancel)
        meaning = write.semantics
        effect = meaning.effect
        if effect in (Effect.LOAD, Effect.ATOMIC):
            return self._load(write, register, lane)
        value = self._after(write, register)       # nothing else is read at the write
        if effect is Effect.COMPUTE:
            if meaning.float_source or not meaning.sources:
                return self._write_step(StepKind.FLOAT, write, value,
                                        f"{name} from a floating-point register (not "
                                        "followed)"), None
            source = meaning.sources[0]
            others = ", ".join(GPR_NAMES[r] for r in meaning.sources[1:])
            what = f"{name} {'copied' if meaning.move else 'computed'} from " \
                f"{GPR_NAMES[source]}" + (f" (also from {others})" if others else "")
            lane = lane if meaning.move else (0, WORD)
            return self._write_step(StepKind.COMPUTE, write, value, what), \
                (Location(register=source, lane=lane), write.icount)
        ends = {
            Effect.CONSTANT: (StepKind.CONSTANT, f"{name} set to a constant in the code"),
            Effect.LINK: (StepKind.LINK, f"{name} set to the return address"),
            Effect.CSR_READ: (StepKind.CSR, f"{name} read from CSR {meaning.csr_name}"),
            Effect.ECALL: (StepKind.SBI, f"{name} set by the SBI (the monitor) answering "
                                         "the ecall"),
            Effect.STORE_CONDITIONAL: (StepKind.CONSTANT, f"{name} set to the "
                                                          "store-conditional's result"),
        }
        kind, what = ends.get(effect, (StepKind.CONSTANT, f"{name} written"))
        return self._write_step(kind, write, value, what), None

    def _load(self, write: RegisterWrite, register: int,
              lane: tuple[int, int]) -> tuple[Step, Any]:
        """A load (at its position): from RAM, go on with the memory; from a device, end."""
        access = write.semantics.memory
        assert access is not None
        cpu, memory = self.board.cpu, self.board.memory
        address = (cpu.x(access.rs1) + access.offset) & MASK64
        try:
            paddr = memory.translate(address)
        except PageFault:
            paddr = None
        value = self._after(write, register)
        name = GPR_NAMES[register]
        if paddr is not None and not self.board.ram.contains(paddr, access.size):
            return self._device(write, value, name, paddr), None
        offset, size = lane
        location = Location(address=address + offset, size=size) \
            if offset + size <= access.size else Location(address=address, size=access.size)
        step = self._write_step(StepKind.LOAD, write, value,
                                f"loaded {name} from {location.describe(self.subject)}")
        return step, (location, write.icount)

    def _device(self, write: RegisterWrite, value: int | None, name: str, paddr: int) -> Step:
        device = next((d for d in self.board.bus.devices
                       if d.base <= paddr < d.base + d.size), None)
        device_name = device.name if device is not None else "an unmapped address"
        offset = f" register {paddr - device.base:#x}" if device is not None else ""
        what = f"{name} read from the {device_name}{offset} ({paddr:#x})"
        kind = DEVICE_EVENTS.get(device_name)
        if kind is not None:
            event = self._event_for(kind, write.icount,
                                    None if value is None else bytes([value & 0xFF]))
            what += f"; its input: {_event_words(event)}" if event is not None \
                else f"; no {kind} event before it"
        return self._write_step(StepKind.DEVICE, write, value, what)

    def _after(self, write: RegisterWrite, register: int) -> int:
        """The register's value just after the instruction (one step forward: read what is
        needed at the instruction itself first)."""
        self.timeline.seek(write.icount + 1, self.subject.cancel)
        return self.board.cpu.x(register)

    # --- events -------------------------------------------------------------
    def _event_for(self, kind: str, icount: int, held: bytes | None) -> tuple[int, Event] | None:
        """The event of ``kind`` that brought a value in by ``icount``: the last one before
        whose data holds the bytes ``held`` (console bytes, entropy), else the last one."""
        events = queries.recorded_events(self.timeline)
        index = bisect.bisect_right(events, icount, key=lambda e: e.icount)
        latest = None
        for n in range(index - 1, -1, -1):
            event = events[n]
            if event.KIND != kind:
                continue
            if latest is None:
                latest = (n, event)
            data = getattr(event, "data", None)
            if held is None or data is None or held in data:
                return n, event
        return latest

    # --- steps --------------------------------------------------------------
    def _write_step(self, kind: StepKind, write: RegisterWrite, value: int | None,
                    what: str) -> Step:
        return self._step(kind, write.icount, write.pc, write.semantics.text, value, what)

    def _step(self, kind: StepKind, icount: int | None, pc: int | None, text: str,
              value: int | None, what: str) -> Step:
        function = self.subject.label(pc) if pc is not None else ""
        return Step(kind, icount, pc, function or ("" if pc is None else "?"), text, value, what)

    def _end(self, kind: StepKind, what: str, value: int | None = None) -> Step:
        return Step(kind, None, None, "", "", value, what)


def _event_words(found: tuple[int, Event]) -> str:
    number, event = found
    return f"event #{number}: {format_event(event).strip()}"
