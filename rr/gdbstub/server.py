"""Debugger semantics: what each gdb packet means for a target, and what to answer.

``GdbServer`` serves one gdb session over an ``RspConnection`` against a
``DebugTarget``. It keeps gdb's view of the session (the stop points gdb
inserted, the last stop, what gdb said it supports) and turns target stops
into stop replies; it never decides where a resume stops (the target does)
and never touches bytes on the wire (the connection does).

Rules from docs/gdb-protocol.md that shape it:
- any packet not implemented gets an empty reply (never a blanket OK);
- one thread per hart, as QEMU's stub has: hart h is thread h + 1, written
  in hex however the client pads it; ``Hg`` picks the thread whose
  registers and memory ``g``/``p``/``m`` read, ``Hc`` (or a vCont step's
  thread) the one a step steps; stop replies name the thread the stop is
  about, which then becomes the one read; no multiprocess extensions;
- `g` carries x0..x31 and pc, every other register comes through `p`; a
  register the target cannot supply is ``xx..`` (unavailable);
- a request the target refuses (writes while replaying) gets an ``E.`` reply
  that says why, and the same line on the stub's stderr; since debuggers do
  not show the text of a refused memory write, it also goes to their console
  at the next resume or monitor command;
- lldb's two questions (qHostInfo, qWatchpointSupportInfo) are answered so
  that it steps over a watchpoint stop as gdb does;
- stop replies: ``T05thread:1;`` plus swbreak/hwbreak, watch/rwatch/awatch
  with the address, replaylog:begin/end; Ctrl-C gives ``T02thread:1;``;
  a live guest's poweroff ``Wxx`` (which ends the session), its board error
  ``T0bthread:1;`` (SIGSEGV, the state kept for inspection).

A client that sends ``D`` (detach) or ``k`` (kill) ends the server; one that
disconnects ends only its session (the listener then waits for the next).
"""

from __future__ import annotations

import traceback
from enum import Enum
from typing import Callable

from rr.errors import RrError
from rr.gdbstub.constants import (ADDRESS_SPACE, ALL_THREADS, ANY_THREAD, ERROR_BAD_ARGUMENT,
                                  ERROR_FAULT, ERROR_NO_REGISTER, LLDB_HOST_INFO,
                                  LLDB_WATCHPOINT_SLOTS, MAX_INCOMING_PACKET,
                                  MAX_MEMORY_READ, MONITOR_CHUNK, SIGINT, SIGSEGV, SIGTRAP,
                                  SUPPORTED_FEATURES, THREAD_ID, UNTOLD_LIMIT, VCONT_ACTIONS)
from rr.gdbstub.packets import OVERSIZED, ConnectionClosed, RspConnection, escape_binary
from rr.gdbstub.registers import G_PACKET_REGISTERS, Register
from rr.gdbstub.stop_points import (STOP_REASON_OF_KIND, WATCH_KIND_OF_TYPE, Z_TYPES, StopPoint,
                                    StopPoints)
from rr.gdbstub.target import (DebugTarget, Direction, MemoryFault, ReadOnly, Resume, Stop,
                               StopKind)
from rr.gdbstub.target_xml import read_annex
from rr.replay.hits import check_watch_range


class SessionEnd(Enum):
    DETACHED = "detached"            # D: gdb is done; the server exits
    KILLED = "killed"                # k / vKill: the server exits
    DISCONNECTED = "disconnected"    # the client went away; wait for another
    EXITED = "exited"                # the live guest powered off (gdb was told, W packet)


class _Error(Exception):
    """A reply that is an error (``E01``, ``E.text``): raised by handlers, sent by dispatch."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def error_text_reply(message: str) -> str:
    """``E.message``, with only bytes that need no escaping (gdb shows it verbatim)."""
    clean = "".join(c if " " <= c <= "~" and c not in "#$}*" else "?" for c in message)
    return "E." + clean


def stop_reply(stop: Stop, features: set[str], thread: int = THREAD_ID) -> str:
    if stop.kind is StopKind.INTERRUPTED:
        return f"T{SIGINT:02x}thread:{thread:x};"
    if stop.kind is StopKind.EXITED:
        return f"W{stop.code & 0xFF:02x}"
    if stop.kind is StopKind.FAULTED:
        return f"T{SIGSEGV:02x}thread:{thread:x};"
    reply = f"T{SIGTRAP:02x}thread:{thread:x};"
    if stop.kind is StopKind.BREAKPOINT:
        reason = "hwbreak" if stop.hardware else "swbreak"
        if f"{reason}+" in features:
            reply += f"{reason}:;"
    elif stop.kind is StopKind.WATCHPOINT:
        reply += f"{STOP_REASON_OF_KIND[stop.watch_kind]}:{stop.address:x};"
    elif stop.kind is StopKind.HISTORY_BEGIN:
        reply += "replaylog:begin;"
    elif stop.kind is StopKind.HISTORY_END:
        reply += "replaylog:end;"
    return reply


def _hex_value(value: int, size: int) -> str:
    return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little").hex()


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _parse_hex(text: str) -> int:
    """A non-negative hex number as gdb writes them (no sign, no prefix, no spaces)."""
    if not text or not _HEX_DIGITS.issuperset(text):
        raise _Error(ERROR_BAD_ARGUMENT)
    return int(text, 16)


def _thread_hart(text: str, harts: int) -> int | None:
    """The hart a thread id names (thread h + 1 is hart h): a hex number, however written
    (gdb sends ``1``, lldb ``0001``); None for 0 (any thread) or -1 (all)
    (docs/gdb-protocol.md, G4). Any other id is an error reply."""
    if text == str(ALL_THREADS):
        return None
    number = _parse_hex(text)
    if number == ANY_THREAD:
        return None
    if not THREAD_ID <= number < THREAD_ID + harts:
        raise _Error(ERROR_BAD_ARGUMENT)
    return number - THREAD_ID


class GdbServer:
    """One gdb session at a time against ``target``; ``log`` gets the stub's own messages."""

    def __init__(self, target: DebugTarget, log: Callable[[str], None]) -> None:
        self.target = target
        self.registers = target.registers()
        self.log = log
        self.conn: RspConnection | None = None
        self.points = StopPoints()
        self.last_stop = Stop(StopKind.STEP)
        self.client_features: set[str] = set()
        self.untold: list[str] = []          # refusals gdb could not show yet (docs/gdb-protocol.md, G17)
        self.untold_more = 0                 # ... and how many more, past UNTOLD_LIMIT
        self.step_hart: int | None = None    # Hc: the hart a step steps (None: gdb's g hart)
        self.read_hart: int | None = None    # Hg: the hart read (None: the current one)

    # --- the session loop ---------------------------------------------------------
    def serve(self, conn: RspConnection) -> SessionEnd:
        """Answer packets until gdb detaches, kills, or goes away."""
        self.conn = conn
        self.points = StopPoints()           # a new gdb inserts its own
        self.client_features = set()
        self.last_stop = Stop(StopKind.STEP)  # no stale reason (a watchpoint it never set)
        self.untold, self.untold_more = [], 0
        self._read_hart(None)
        self.step_hart = None
        try:
            while True:
                packet = conn.read_packet()
                if packet is OVERSIZED:
                    conn.send(error_text_reply(f"packet longer than {MAX_INCOMING_PACKET} bytes"))
                    continue
                end = self._dispatch(packet.decode("latin-1"))
                if end is not None:
                    return end
        except ConnectionClosed:
            self.log(f"gdb went away; the guest stays at {self.target.describe_position()}")
            return SessionEnd.DISCONNECTED

    def _dispatch(self, packet: str) -> SessionEnd | None:
        conn = self.conn
        if packet == "k" or packet.startswith("vKill"):
            self.log("gdb killed the session")
            if packet.startswith("vKill"):
                conn.send("OK")
            return SessionEnd.KILLED
        if packet == "D" or packet.startswith("D;"):
            conn.send("OK")
            self.log("gdb detached")
            return SessionEnd.DETACHED
        if packet == "QStartNoAckMode":
            conn.send("OK")
            conn.start_no_ack_mode()
            return None
        try:
            reply = self._handle(packet)
        except _Error as error:
            reply = error.reply
        except (ReadOnly, MemoryFault) as error:
            reply = error_text_reply(str(error))
        except RrError as error:
            self.log(f"error: {error}")
            reply = error_text_reply(str(error))
        except ConnectionClosed:
            raise
        except Exception:                          # a bug: report it, keep serving
            self.log(f"internal error on packet {packet[:80]!r}:\n{traceback.format_exc()}")
            reply = ERROR_BAD_ARGUMENT
        if reply is not None:
            conn.send(reply)
        if self.last_stop.kind is StopKind.EXITED:
            return SessionEnd.EXITED
        return None

    def _handle(self, packet: str) -> str | None:
        if not packet:
            return ""
        head = packet[0]
        if head == "q":
            return self._query(packet)
        if head == "v":
            return self._v_packet(packet)
        if head == "?":
            return self._stop_reply(self.last_stop)
        if head == "H":
            hart = self._thread_hart(packet[2:])
            if packet[1:2] == "g":
                self._read_hart(hart)
            elif packet[1:2] == "c":
                self.step_hart = hart
            return "OK"
        if head == "T":
            self._thread_hart(packet[1:])
            return "OK"
        if head == "g":
            return "".join(self._register_hex(reg)
                           for reg in self.registers.registers[:G_PACKET_REGISTERS])
        if head == "p":
            return self._read_register(packet[1:])
        if head in "GP":
            return self._write_state(packet)
        if head == "m":
            return self._read_memory(packet[1:])
        if head in "MX":
            return self._write_state(packet)
        if head in "cCsS":
            step = head in "sS"
            return self._resume(Resume(Direction.FORWARD, step=step,
                                       hart=self._default_step_hart() if step else None))
        if packet in ("bs", "bc"):
            step = packet == "bs"
            return self._resume(Resume(Direction.BACKWARD, step=step,
                                       hart=self._default_step_hart() if step else None))
        if head in "Zz":
            return self._stop_point(packet)
        return ""

    # --- queries --------------------------------------------------------------------
    def _query(self, packet: str) -> str:
        if packet.startswith("qSupported"):
            _, _, listed = packet.partition(":")
            self.client_features = set(listed.split(";")) if listed else set()
            return ";".join(SUPPORTED_FEATURES)
        if packet.startswith("qXfer:features:read:"):
            return self._xfer_features(packet[len("qXfer:features:read:"):])
        if packet == "qC":
            return f"QC{self.target.current_hart() + THREAD_ID:x}"
        if packet == "qfThreadInfo":
            return "m" + ",".join(f"{hart + THREAD_ID:x}"
                                  for hart in range(self.target.hart_count()))
        if packet == "qsThreadInfo":
            return "l"
        if packet.startswith("qThreadExtraInfo,") and self.target.hart_count() > 1:
            hart = self._thread_hart(packet[len("qThreadExtraInfo,"):])
            return f"hart {hart if hart is not None else self.target.current_hart()}" \
                .encode().hex()
        if packet.startswith("qAttached"):
            return "1"
        if packet.startswith("qRcmd,"):
            return self._monitor(packet[len("qRcmd,"):])
        if packet == "qHostInfo":
            return LLDB_HOST_INFO
        if packet.startswith("qWatchpointSupportInfo"):
            return f"num:{LLDB_WATCHPOINT_SLOTS};"
        return ""

    def _xfer_features(self, rest: str) -> str:
        annex, _, window = rest.rpartition(":")
        offset_text, _, length_text = window.partition(",")
        data = read_annex(annex, _parse_hex(offset_text), _parse_hex(length_text),
                          self.registers.sstc)
        if data is None:
            return "E00"
        return (data[:1] + escape_binary(data[1:])).decode("latin-1")

    def _monitor(self, hex_command: str) -> str:
        try:
            command = bytes.fromhex(hex_command).decode("utf-8", "replace")
        except ValueError:
            raise _Error(ERROR_BAD_ARGUMENT) from None
        try:
            output = self.target.monitor(command)
        except RrError as error:
            # gdb prints a qRcmd reply that is neither OK nor O.. as hex: say it in O packets.
            self.log(f"error in 'monitor {command}': {error}")
            output = f"rrvm: {error}\n"
        self._console(self._take_untold() + output)
        return "OK"

    def _console(self, text: str) -> None:
        """Text for gdb's console, in O packets: gdb shows them while it waits for the reply
        to a resume or a qRcmd, and nowhere else (docs/gdb-protocol.md, G21)."""
        for start in range(0, len(text), MONITOR_CHUNK):
            self.conn.send("O" + text[start:start + MONITOR_CHUNK].encode().hex())

    def _tell_later(self, note: str) -> None:
        if len(self.untold) < UNTOLD_LIMIT:
            self.untold.append(note)
        else:
            self.untold_more += 1

    def _take_untold(self) -> str:
        text = "".join(self.untold)
        if self.untold_more:
            text += f"rrvm: ... and {self.untold_more} more refused memory writes\n"
        self.untold, self.untold_more = [], 0
        return text

    # --- v packets ------------------------------------------------------------------
    def _v_packet(self, packet: str) -> str:
        if packet == "vCont?":
            return VCONT_ACTIONS
        if packet.startswith("vCont;"):
            return self._resume(self._vcont_action(packet[len("vCont;"):]))
        return ""                            # vMustReplyEmpty and everything else

    def _vcont_action(self, actions: str) -> Resume:
        """The leftmost action for a thread that exists: a step steps its thread's hart
        (no id: the Hc or Hg one); a continue runs every hart."""
        for action in actions.split(";"):
            verb, _, thread = action.partition(":")
            try:
                hart = self._thread_hart(thread) if thread else None
            except _Error:
                continue                     # a thread that is not one of ours
            
            if verb[:1] in ("c", "C"):
                return Resume(Direction.FORWARD, step=False)
            if verb[:1] in ("s", "S"):
                return Resume(Direction.FORWARD, step=True,
                              hart=hart if hart is not None else self._default_step_hart())
            raise _Error(ERROR_BAD_ARGUMENT)
        raise _Error(ERROR_BAD_ARGUMENT)

    # --- threads --------------------------------------------------------------------
    def _thread_hart(self, text: str) -> int | None:
        return _thread_hart(text, self.target.hart_count())

    def _read_hart(self, hart: int | None) -> None:
        self.read_hart = hart
        self.target.view_hart(hart)

    def _default_step_hart(self) -> int | None:
        return self.step_hart if self.step_hart is not None else self.read_hart

    def _stop_reply(self, stop: Stop) -> str:
        hart = stop.hart if stop.hart is not None else self.target.current_hart()
        return stop_reply(stop, self.client_features, hart + THREAD_ID)

    # --- registers and memory ---------------------------------------------------------
    def _register_hex(self, register: Register) -> str:
        value = self.target.read_register(register)
        if value is None:
            return "xx" * register.size
        return _hex_value(value, register.size)

    def _read_register(self, number: str) -> str:
        register = self.registers.by_number.get(_parse_hex(number))
        if register is None:
            return ERROR_NO_REGISTER
        return self._register_hex(register)

    def _read_memory(self, arguments: str) -> str:
        address_text, _, length_text = arguments.partition(",")
        address, length = _parse_hex(address_text), _parse_hex(length_text)
        try:
            return self.target.read_memory(address, min(length, MAX_MEMORY_READ)).hex()
        except MemoryFault:
            return ERROR_FAULT

    def _write_state(self, packet: str) -> str:
        """G, P, M, X: the target decides; a replay refuses and says why."""
        head = packet[0]
        what = "write registers"
        try:
            if head == "P":
                number, _, value = packet[1:].partition("=")
                register = self.registers.by_number.get(_parse_hex(number))
                if register is None:
                    return ERROR_NO_REGISTER
                what = f"write register {register.name}"
                self.target.write_register(register, int.from_bytes(bytes.fromhex(value),
                                                                    "little"))
            elif head == "G":
                data = bytes.fromhex(packet[1:])
                for index, register in enumerate(self.registers.registers[:G_PACKET_REGISTERS]):
                    chunk = data[index * 8:index * 8 + 8]
                    if len(chunk) == 8:
                        self.target.write_register(register, int.from_bytes(chunk, "little"))
            else:
                where, _, data = packet[1:].partition(":")
                address_text, _, _length = where.partition(",")
                address = _parse_hex(address_text)
                payload = data.encode("latin-1") if head == "X" else bytes.fromhex(data)
                if not payload:
                    return "OK"                  # gdb's probe for X: nothing to write
                what = f"write memory at {address:#x}"
                self.target.write_memory(address, payload)
        except ValueError:
            return ERROR_BAD_ARGUMENT
        except (ReadOnly, MemoryFault) as refusal:
            self.log(f"refused: gdb asked to {what}: {refusal}")
            if head in "MX":
                # gdb and lldb show only "Cannot access memory" / "memory write failed"
                # whatever the reply says: the reason goes to their console at the next
                # chance (docs/gdb-protocol.md, G17).
                self._tell_later(f"rrvm: the debugger's request to {what} was refused: "
                                 f"{refusal}\n")
            return error_text_reply(str(refusal))
        return "OK"

    # --- stop points and resuming -------------------------------------------------------
    def _stop_point(self, packet: str) -> str:
        fields = packet[1:].split(";", 1)[0].split(",")
        if len(fields) != 3:
            return ERROR_BAD_ARGUMENT
        kind_type = _parse_hex(fields[0])
        if kind_type not in Z_TYPES:
            return ""
        point = StopPoint(kind_type, _parse_hex(fields[1]), _parse_hex(fields[2]))
        if point.address + max(point.kind, 1) > ADDRESS_SPACE:
            return ERROR_BAD_ARGUMENT
        if packet[0] == "Z" and kind_type in WATCH_KIND_OF_TYPE:
            try:
                check_watch_range(point.address, max(1, point.kind))
            except RrError as refusal:
                self._tell_later(f"rrvm: {refusal}\n")
                return error_text_reply(str(refusal))
        if packet[0] == "Z":
            self.points.insert(point)
        else:
            self.points.remove(point)
        return "OK"

    def _resume(self, how: Resume) -> str:
        self._console(self._take_untold())
        try:
            stop = self.target.resume(how, self.points, self.conn.poll_interrupt)
        except RrError as error:
            # Tell gdb (console output is allowed until the stop reply) and stop here.
            self.log(f"error: {error}")
            self._console(f"rrvm: {error}\n")
            stop = Stop(StopKind.STEP)
        if self.conn.closed:
            raise ConnectionClosed()
        self.last_stop = stop
        reply = self._stop_reply(stop)
        # gdb selects the thread a stop names; reads go to it until it says otherwise.
        self._read_hart(stop.hart if stop.hart is not None else None)
        self.step_hart = None
        return reply
