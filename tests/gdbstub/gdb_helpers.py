"""Helpers for the GDB stub tests: recording traces, running `rrvm debug`, a raw RSP
client, and stock gdb-multiarch in batch mode.

Not a conftest.py on purpose: the tests import what they use.
"""

from __future__ import annotations

import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rr.gdbstub.gdb import TRAP_UNWINDER
from rr.log.trace_reader import TraceReader

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "guests" / "bin"
RRVM = [sys.executable, "-m", "rr"]
GDB = shutil.which("gdb-multiarch")
LLDB = shutil.which("lldb")
WAITING = re.compile(r"rrvm: waiting for gdb on ([\d.]+):(\d+)")
TIMEOUT = 60


def record(guest: str, trace: Path, want_exit: str | None = None, want_output: bytes = b"",
           attempts: int = 1) -> Path:
    """`python -m rr record guests/bin/GUEST.elf -o TRACE`; retried until the recorded exit
    kind is ``want_exit`` and the console printed ``want_output`` (for guests that vary)."""
    for _ in range(attempts):
        done = subprocess.run([*RRVM, "record", str(BIN / f"{guest}.elf"), "-o", str(trace)],
                              cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=TIMEOUT)
        with TraceReader(trace) as reader:
            kind = reader.footer.exit_kind if reader.footer else None
        if (want_exit is None or kind == want_exit) and want_output in done.stdout:
            return trace
    raise AssertionError(f"{guest}: no recording ended with {want_exit!r} and printed "
                         f"{want_output!r} in {attempts} attempts")


class StubServer:
    """`rrvm ARGS` serving gdb, in a subprocess; the port is read from its waiting line.

    ``stdin``: subprocess.DEVNULL, or subprocess.PIPE to type at the guest's console
    (``type``)."""

    def __init__(self, *args: str, stdin: int = subprocess.DEVNULL) -> None:
        self.proc = subprocess.Popen([*RRVM, *args], cwd=REPO, stdin=stdin,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stderr_lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stdout = bytearray()
        threading.Thread(target=self._pump_stderr, daemon=True).start()
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        self.port = self._wait_for_port()

    def _pump_stderr(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            self.stderr_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stdout(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read1(4096), b""):
            self._stdout += chunk

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if line is None:
                break
            match = WAITING.search(line)
            if match:
                return int(match.group(2))
        raise AssertionError(f"no waiting line from rrvm: {''.join(self.stderr_lines)}")

    @property
    def stdout(self) -> bytes:
        return bytes(self._stdout)

    def type(self, text: bytes) -> None:
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def wait_for_output(self, text: bytes, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self._stdout:
            if time.monotonic() > deadline or self.proc.poll() is not None and \
                    text not in self._stdout:
                raise AssertionError(f"{text!r} never printed; stdout: {self.stdout!r}; "
                                     f"stderr: {self.stderr}")
            time.sleep(0.05)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def wait(self, timeout: float = 10) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "StubServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class DebugServer(StubServer):
    """`rrvm debug TRACE --gdb 0`."""

    def __init__(self, trace: Path, *extra: str) -> None:
        super().__init__("debug", str(trace), "--gdb", "0", *extra)


@dataclass
class GdbRun:
    stdout: str
    stderr: str
    returncode: int

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def gdb_command_line(elf: str | Path | None, port: int, commands: list[str],
                     setup: tuple[str, ...] = ()) -> list[str]:
    """gdb-multiarch in batch mode, attached to the stub; ``elf`` is a name in guests/bin or
    a path, None to attach without a file (gdb then knows the target only from the stub)."""
    args = [GDB, "-nx", "-batch", "-ex", "set confirm off", "-ex", "set pagination off"]
    load = () if elf is None else (f"file {BIN / elf}",)
    for line in (*setup, *load, f"target remote 127.0.0.1:{port}", *commands):
        args += ["-ex", line]
    return args


def run_gdb(elf: str | Path | None, port: int, commands: list[str], setup: tuple[str, ...] = (),
            timeout: float = TIMEOUT) -> GdbRun:
    """gdb-multiarch in batch mode: every -ex runs even after an error, so assert on output."""
    return _run_debugger(gdb_command_line(elf, port, commands, setup), timeout)


SOURCE_TRAP_UNWINDER = f"source {TRAP_UNWINDER}"


def source_line(path: Path, text: str) -> int:
    """The number of the first line of a guest source file that holds ``text``."""
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1)
                if text in line)


def run_lldb(elf: str, port: int, commands: list[str], timeout: float = TIMEOUT) -> GdbRun:
    """lldb in batch mode with the guest's ELF as its target, attached with gdb-remote.

    Unlike gdb, lldb stops running commands at the first that fails (and then ends the
    session), so a test's commands must all succeed."""
    args = [LLDB, "--no-lldbinit", "--batch", "-o", f"target create {BIN / elf}",
            "-o", f"gdb-remote 127.0.0.1:{port}"]
    for line in commands:
        args += ["-o", line]
    return _run_debugger(args, timeout)


def _run_debugger(args: list[str], timeout: float) -> GdbRun:
    done = subprocess.run(args, cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout)
    return GdbRun(done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"),
                  done.returncode)


def pc_values(text: str, tag: str = "PC") -> list[int]:
    """Values printed by `printf "PC %lx\\n", $pc`-style commands, in order."""
    return [int(value, 16) for value in re.findall(rf"^{tag} ([0-9a-f]+)$", text, re.M)]


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def framed(payload: bytes | str) -> bytes:
    if isinstance(payload, str):
        payload = payload.encode("latin-1")
    return b"$" + payload + b"#" + f"{checksum(payload):02x}".encode()


class RspClient:
    """A minimal, strict GDB remote protocol client over a raw socket."""

    def __init__(self, port: int, timeout: float = 20) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # as gdb does
        self.buffer = bytearray()
        self.ack_mode = True
        self.acks: list[bytes] = []          # '+' / '-' received outside packets, in order

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, payload: bytes | str) -> None:
        self.send_raw(framed(payload))

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the stub closed the connection")
        self.buffer += data

    def read_ack(self) -> bytes:
        while not self.buffer:
            self._fill()
        byte = bytes(self.buffer[:1])
        del self.buffer[:1]
        return byte

    def read_packet(self) -> str:
        """The next reply packet (checksum verified, acked in ack mode), as text."""
        while True:
            while self.buffer and self.buffer[0] != ord("$"):
                self.acks.append(bytes(self.buffer[:1]))
                del self.buffer[:1]
            end = self.buffer.find(b"#")
            if self.buffer and end >= 0 and len(self.buffer) >= end + 3:
                body = bytes(self.buffer[1:end])
                digits = bytes(self.buffer[end + 1:end + 3])
                del self.buffer[:end + 3]
                assert int(digits, 16) == checksum(body), f"bad checksum from the stub: {body!r}"
                assert b"*" not in body or body.startswith(b"l") or body.startswith(b"m"), body
                if self.ack_mode:
                    self.send_raw(b"+")
                return body.decode("latin-1")
            self._fill()

    def request(self, payload: bytes | str) -> str:
        self.send(payload)
        if self.ack_mode:
            assert self.read_ack() == b"+"
        return self.read_packet()

    def start_no_ack(self) -> None:
        assert self.request("QStartNoAckMode") == "OK"
        self.ack_mode = False

    def monitor(self, command: str) -> str:
        """`monitor COMMAND`: the O packets' text up to the final OK."""
        self.send("qRcmd," + command.encode().hex())
        if self.ack_mode:
            assert self.read_ack() == b"+"
        text = ""
        while True:
            reply = self.read_packet()
            if reply == "OK":
                return text
            assert reply.startswith("O"), reply
            text += bytes.fromhex(reply[1:]).decode()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RspClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def icount_of(text: str) -> int:
    match = re.search(r"icount (\d+)", text)
    assert match, text
    return int(match.group(1))
