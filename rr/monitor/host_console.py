"""The user's side of the UART: this process's stdin and stdout.

On a terminal, stdin goes to raw mode so every key reaches the guest, and
``Ctrl-A x`` quits, as in QEMU (``Ctrl-A Ctrl-A`` sends a literal Ctrl-A).
Otherwise stdin is read as a byte stream; its end is remembered so a guest
waiting forever for input can be told apart from one that will get some.
A reader thread keeps stdin drained so the run loop never blocks on it.
"""

from __future__ import annotations

import os
import sys
import termios
import threading
import tty

from rr.monitor.inputs import ConsoleInput

CTRL_A = 0x01
QUIT_KEY = ord("x")
READ_SIZE = 4096


class HostConsole(ConsoleInput):
    """Console input from a file descriptor, with QEMU's escape on terminals."""

    def __init__(self, fd: int | None = None, escape: bool | None = None) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.is_terminal = os.isatty(self.fd)
        self.escape = self.is_terminal if escape is None else escape
        self._buffer = bytearray()
        self._eof = False
        self._after_ctrl_a = False
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._saved_mode = None
        self.quit_requested = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.is_terminal:
            self._saved_mode = termios.tcgetattr(self.fd)
            tty.setraw(self.fd)
            mode = termios.tcgetattr(self.fd)
            mode[1] |= termios.OPOST          # keep "\n" -> "\r\n" on output, as QEMU does
            termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        self._thread = threading.Thread(target=self._reader, name="console-reader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._saved_mode is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved_mode)
            self._saved_mode = None

    def request_quit(self) -> None:
        self.quit_requested = True
        self._ready.set()

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._eof and not self._buffer

    # --- ConsoleInput -------------------------------------------------------
    def read_available(self, max_bytes: int) -> bytes:
        with self._lock:
            data = bytes(self._buffer[:max_bytes])
            del self._buffer[:max_bytes]
            if not self._buffer and not self._eof:
                self._ready.clear()
        return data

    def wait(self, timeout: float | None) -> None:
        self._ready.wait(timeout)

    # --- reader thread ------------------------------------------------------
    def _reader(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, READ_SIZE)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    self._eof = True
                self._ready.set()
                return
            data = self._filter_escape(chunk) if self.escape else chunk
            with self._lock:
                self._buffer.extend(data)
            if data:
                self._ready.set()

    def _filter_escape(self, chunk: bytes) -> bytes:
        out = bytearray()
        for byte in chunk:
            if self._after_ctrl_a:
                self._after_ctrl_a = False
                if byte == QUIT_KEY:
                    self.request_quit()
                elif byte == CTRL_A:
                    out.append(CTRL_A)
                continue
            if byte == CTRL_A:
                self._after_ctrl_a = True
            else:
                out.append(byte)
        return bytes(out)


class HostConsoleOutput:
    """Guest console bytes to stdout, unbuffered, so prompts appear at once."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdout.fileno() if fd is None else fd
        self.written = 0

    def __call__(self, data: bytes) -> None:
        self.written += len(data)
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BrokenPipeError:
                return
            view = view[n:]
