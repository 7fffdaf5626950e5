"""The TCP side: one port, one gdb at a time, sessions one after another.

The machine (unicorn) belongs to the main thread, which serves the attached
client. A small acceptor thread owns the listening socket so that a second
client can be answered while the first is attached: it reads that client's
first packet and replies with one ``E.`` error that says the stub is busy
(gdb prints it as "Remote failure reply: E.rrvm: ..."), then closes. The
first client never notices.

When a client disconnects (even in the middle of a command or while the
target runs) its session ends and the next client is served from where the
target is (a live guest runs on meanwhile). ``D`` (detach) and ``k`` (kill)
end the server, as does a live guest's poweroff.
"""

from __future__ import annotations

import errno
import queue
import socket
import threading
from typing import Callable

from rr.errors import RrError
from rr.gdbstub.constants import (BUSY_GRACE_SECONDS, LISTEN_BACKLOG, PACKET_END, RECV_SIZE,
                                  REFUSAL_TIMEOUT_SECONDS)
from rr.gdbstub.packets import RspConnection, frame
from rr.gdbstub.server import GdbServer, SessionEnd, error_text_reply

BUSY_MESSAGE = ("rrvm: another debugger is already attached to this stub; "
                "detach it first")


class ListenError(RrError):
    """The port cannot be listened on (in use, not allowed, bad address)."""


class GdbListener:
    """The listening socket (bound at construction, so a busy port fails early) and the
    hand-over of clients to the main thread."""

    def __init__(self, address: str, port: int) -> None:
        try:
            infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ListenError(f"cannot listen on {address}:{port}: {exc.strerror}") from None
        family, _, _, _, sockaddr = infos[0]
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(sockaddr)
            self.sock.listen(LISTEN_BACKLOG)
        except OSError as exc:
            self.sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise ListenError(f"port {port} on {address} is already in use "
                                  "(pick another with --gdb PORT)") from None
            raise ListenError(f"cannot listen on {address}:{port}: {exc.strerror}") from None
        self.address, self.port = self.sock.getsockname()[:2]
        self._clients: queue.Queue[socket.socket] = queue.Queue()
        self._busy = threading.Lock()       # held from hand-over until the session ends
        self._closing = False
        self._thread = threading.Thread(target=self._accept_loop, name="gdb-acceptor",
                                        daemon=True)

    def serve(self, server: GdbServer, log: Callable[[str], None],
              trace: Callable[[str], None] | None = None,
              run_detached: Callable[[Callable[[], bool]], bool] | None = None,
              hold_first: bool = False) -> SessionEnd:
        """Serve clients one after another until one detaches or kills.

        ``run_detached`` (a live guest) runs the target while no client is
        attached, until one is waiting (it returns True) or the guest ends
        (False: serving ends with EXITED). ``hold_first``: the target waits for
        the first client without running (QEMU's -S).
        """
        self._thread.start()
        holding = hold_first
        try:
            while True:
                if run_detached is not None and not holding \
                        and not run_detached(lambda: not self._clients.empty()):
                    return SessionEnd.EXITED
                holding = False
                client = self._clients.get()
                peer = _peer_name(client)
                log(f"gdb connected from {peer}")
                conn = RspConnection(client, trace)
                try:
                    end = server.serve(conn)
                finally:
                    conn.close()
                    self._busy.release()
                if end is not SessionEnd.DISCONNECTED:
                    return end
                log(f"gdb at {peer} disconnected; waiting for gdb on {self.address}:{self.port}")
        finally:
            self.close()

    def close(self) -> None:
        self._closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)      # wakes the acceptor's accept()
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    # --- the acceptor thread --------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closing:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return                          # the listening socket was closed
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # A client that just disconnected may not have been noticed yet
            # (the main thread is between two polls): give it a moment.
            if self._busy.acquire(timeout=BUSY_GRACE_SECONDS):
                self._clients.put(client)
            else:
                threading.Thread(target=_refuse, args=(client,), name="gdb-refusal",
                                 daemon=True).start()


def _refuse(client: socket.socket) -> None:
    """Answer a second client's first packet with an error, then close."""
    try:
        client.settimeout(REFUSAL_TIMEOUT_SECONDS)
        seen = bytearray()
        while True:
            data = client.recv(RECV_SIZE)
            if not data:
                break
            seen += data
            end = seen.find(PACKET_END)
            if end >= 0 and len(seen) >= end + 3:
                client.sendall(b"+" + frame(error_text_reply(BUSY_MESSAGE).encode()))
                break
            if len(seen) > RECV_SIZE * 4:
                break
    except OSError:
        pass
    finally:
        try:
            client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        client.close()


def _peer_name(client: socket.socket) -> str:
    try:
        host, port = client.getpeername()[:2]
        return f"{host}:{port}"
    except OSError:
        return "an unknown address"
