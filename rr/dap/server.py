"""A Debug Adapter Protocol session: a reader thread, requests answered in order.

The reader thread only reads and queues messages, except that a ``pause``
also interrupts a movement that is running (the main thread is busy with it
and reads the queue only when it ends). Everything else (answering, running
the machine, sending events) happens on the calling thread. A malformed
message gets an error response (request_seq 0 when there was no request to
name) and the session goes on; an exception inside a handler is reported to
the client as one line, with the traceback on stderr only.
"""

from __future__ import annotations

import queue
import sys
import threading
import traceback

from rr.dap.adapter import DapAdapter
from rr.dap.framing import BadMessage, DapStream, StreamClosed
from rr.dap.messages import Request, RequestError

_CLOSED = object()


def serve(stream: DapStream, adapter: DapAdapter) -> None:
    """Answer requests until the client disconnects or closes the stream."""
    inbox: queue.Queue = queue.Queue()
    threading.Thread(target=_read_loop, args=(stream, adapter, inbox), daemon=True).start()
    try:
        while not adapter.finished:
            item = inbox.get()
            if item is _CLOSED:
                return
            if isinstance(item, BadMessage):
                stream.write(adapter.outbox.error(0, "", str(item)))
                continue
            _answer(stream, adapter, item)
    finally:
        adapter.close()


def _read_loop(stream: DapStream, adapter: DapAdapter, inbox: queue.Queue) -> None:
    while True:
        try:
            message = stream.read()
        except BadMessage as error:
            inbox.put(error)
            continue
        except (StreamClosed, OSError, ValueError):
            inbox.put(_CLOSED)
            return
        if message.get("command") == "pause":
            adapter.interrupt()
        inbox.put(message)


def _answer(stream: DapStream, adapter: DapAdapter, message: dict) -> None:
    try:
        request = Request.parse(message)
    except RequestError as error:
        seq = message.get("seq")
        stream.write(adapter.outbox.error(seq if isinstance(seq, int) else 0,
                                          str(message.get("command", "")), str(error)))
        return
    try:
        response = adapter.handle(request)
    except Exception as error:          # a bug: one line to the client, the details on stderr
        traceback.print_exc(file=sys.stderr)
        response = adapter.outbox.error(request.seq, request.command,
                                        f"{request.command}: internal error: "
                                        f"{type(error).__name__}: {error}")
    stream.write(response)
    try:
        adapter.run_pending()
    except Exception as error:          # after the response: say it on the client's console
        traceback.print_exc(file=sys.stderr)
        adapter.event("output", {"category": "stderr",
                                 "output": f"rrvm: internal error after {request.command}: "
                                           f"{type(error).__name__}: {error}\n"})
