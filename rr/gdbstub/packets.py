"""GDB remote serial protocol framing over one socket.

This layer knows packets, not debugging: ``$body#cs`` frames with their
checksums, ``+``/``-`` acknowledgements until QStartNoAckMode, binary
escaping (``}`` then the byte XOR 0x20, for ``# $ } *``), run-length
decoding of input, and Ctrl-C (a raw 0x03 between packets).

It is written for hostile input, because whatever reaches a TCP port will
arrive one day: bytes outside a frame are skipped, a ``$`` always starts a
new frame (so a torn packet cannot swallow the next one), a frame longer
than ``MAX_INCOMING_PACKET`` is discarded as it streams in and reported as
``OVERSIZED`` instead of being buffered, and a bad checksum is answered with
``-`` in ack mode and ignored in no-ack mode. Nothing a client sends makes
this class raise anything but ``ConnectionClosed``.
"""

from __future__ import annotations

import select
import socket
from collections import deque
from typing import Callable

from rr.gdbstub.constants import (ACK, ESCAPE, ESCAPE_XOR, ESCAPED_BYTES, INTERRUPT,
                                  MAX_INCOMING_PACKET, MAX_RETRANSMITS, NACK, PACKET_END,
                                  PACKET_START, RECV_SIZE, RUN_LENGTH, RUN_LENGTH_BIAS)


class ConnectionClosed(Exception):
    """The client went away (end of stream or a reset); the session is over."""


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


# What read_packet() returns for a frame too long to accept (its contents are gone).
OVERSIZED = _Marker("OVERSIZED")
_INTERRUPT = _Marker("INTERRUPT")

# Parser states.
_IDLE, _BODY, _CHECKSUM = range(3)


def checksum(data: bytes) -> int:
    """The protocol checksum: the sum of the bytes between '$' and '#', modulo 256."""
    return sum(data) & 0xFF


def frame(payload: bytes) -> bytes:
    """``$payload#cs``; the payload must already be escaped where it holds binary data."""
    return b"$" + payload + b"#" + f"{checksum(payload):02x}".encode()


def escape_binary(data: bytes) -> bytes:
    """Binary data for a reply (qXfer): ``# $ } *`` become ``}`` and the byte XOR 0x20."""
    out = bytearray()
    for byte in data:
        if byte in ESCAPED_BYTES:
            out += bytes((ESCAPE, byte ^ ESCAPE_XOR))
        else:
            out.append(byte)
    return bytes(out)


def decode_body(raw: bytes) -> bytes:
    """Undo escaping and run-length encoding of a received packet body.

    Escapes only occur in binary packets (X), whose other bytes are plain
    ASCII, so one decoder serves every packet. A dangling escape or a
    repeat with nothing before it is kept as is rather than refused.
    """
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        if byte == ESCAPE and i + 1 < n:
            out.append(raw[i + 1] ^ ESCAPE_XOR)
            i += 2
        elif byte == RUN_LENGTH and out and i + 1 < n:
            out += out[-1:] * max(0, raw[i + 1] - RUN_LENGTH_BIAS)
            i += 2
        else:
            out.append(byte)
            i += 1
    return bytes(out)


class RspConnection:
    """One client's byte stream as packets, replies and interrupts."""

    def __init__(self, sock: socket.socket, trace: Callable[[str], None] | None = None) -> None:
        self.sock = sock
        self.ack_mode = True
        self.closed = False
        self._trace = trace
        self._events: deque[bytes | _Marker] = deque()
        self._state = _IDLE
        self._body = bytearray()
        self._oversized = False
        self._sum_digits = bytearray()
        self._last_sent: bytes | None = None
        self._retransmits = 0
        self.garbage_bytes = 0          # skipped bytes outside any frame, for diagnostics

    # --- receiving ------------------------------------------------------------
    def read_packet(self) -> bytes | _Marker:
        """The next packet body (decoded), or OVERSIZED; blocks. Interrupts while idle are dropped."""
        while True:
            while self._events:
                event = self._events.popleft()
                if event is not _INTERRUPT:
                    return event
            self._receive(block=True)

    def poll_interrupt(self) -> bool:
        """While the target runs: did gdb send Ctrl-C (or go away)? Never blocks.

        Packets that arrive meanwhile stay queued for ``read_packet``.
        """
        if not self.closed:
            self._receive(block=False)
        found = _INTERRUPT in self._events
        if found:
            self._events = deque(e for e in self._events if e is not _INTERRUPT)
        return found or self.closed

    def _receive(self, block: bool) -> None:
        if self.closed:
            raise ConnectionClosed()
        if not block:
            try:
                readable, _, _ = select.select([self.sock], [], [], 0)
            except (OSError, ValueError):
                readable = [self.sock]
            if not readable:
                return
        try:
            data = self.sock.recv(RECV_SIZE)
        except (ConnectionError, OSError):
            data = b""
        if not data:
            self.closed = True
            if block:
                raise ConnectionClosed()
            return
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        """Run the frame parser over newly received bytes."""
        for byte in data:
            if byte == PACKET_START:          # always (re)synchronises
                self._state, self._oversized = _BODY, False
                self._body.clear()
                self._sum_digits.clear()
            elif self._state == _BODY:
                if byte == PACKET_END:
                    self._state = _CHECKSUM
                elif len(self._body) < MAX_INCOMING_PACKET:
                    self._body.append(byte)
                else:
                    self._oversized = True
            elif self._state == _CHECKSUM:
                self._sum_digits.append(byte)
                if len(self._sum_digits) == 2:
                    self._state = _IDLE
                    self._frame_complete()
            elif byte == INTERRUPT:
                self._events.append(_INTERRUPT)
            elif byte == NACK:
                self._resend()
            elif byte != ACK:
                self.garbage_bytes += 1

    def _frame_complete(self) -> None:
        if self._oversized:
            self._log(f"<- packet longer than {MAX_INCOMING_PACKET} bytes, discarded")
            self._ack(ACK)                    # received; the server answers it with an error
            self._events.append(OVERSIZED)
            return
        body = bytes(self._body)
        try:
            valid = int(self._sum_digits.decode("ascii"), 16) == checksum(body)
        except (UnicodeDecodeError, ValueError):
            valid = False
        if not valid:
            self._log(f"<- bad checksum on {body[:60]!r}")
            self._ack(NACK)
            return
        self._ack(ACK)
        packet = decode_body(body)
        self._log(f"<- {packet[:200]!r}")
        self._events.append(packet)

    def _ack(self, byte: int) -> None:
        if self.ack_mode:
            self._write(bytes((byte,)))

    def _resend(self) -> None:
        """gdb asks for the last reply again (ack mode only, a bounded number of times)."""
        if self.ack_mode and self._last_sent is not None and self._retransmits < MAX_RETRANSMITS:
            self._retransmits += 1
            self._write(self._last_sent)

    # --- sending --------------------------------------------------------------
    def send(self, payload: bytes | str) -> None:
        """Send one reply; ``payload`` must not need escaping unless it is already escaped."""
        if isinstance(payload, str):
            payload = payload.encode("latin-1")
        self._log(f"-> {payload[:200]!r}")
        packet = frame(payload)
        self._last_sent, self._retransmits = packet, 0
        self._write(packet)

    def _write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionClosed()
        try:
            self.sock.sendall(data)
        except (ConnectionError, OSError):
            self.closed = True
            raise ConnectionClosed() from None

    def start_no_ack_mode(self) -> None:
        """After the OK to QStartNoAckMode: no more acks either way (stray ones are ignored)."""
        self.ack_mode = False
        self._last_sent = None

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _log(self, text: str) -> None:
        if self._trace is not None:
            self._trace(text)
