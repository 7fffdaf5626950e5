"""Debug Adapter Protocol framing and request checking, without a client library: bad
headers, bad JSON, unknown commands and bad arguments get one-line error responses, and the
session goes on (in process, and through `python -m rr dap` over stdio)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rr.dap.framing import BadMessage, DapStream, StreamClosed
from rr.dap.messages import Request, RequestError

REPO = Path(__file__).resolve().parents[2]


def frame(message: dict | str | bytes) -> bytes:
    body = message if isinstance(message, bytes) else \
        (message if isinstance(message, str) else json.dumps(message)).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def stream_of(data: bytes) -> DapStream:
    return DapStream(io.BytesIO(data), io.BytesIO())


def test_reads_messages_and_writes_a_content_length_frame():
    stream = stream_of(frame({"seq": 1, "type": "request", "command": "threads"}) +
                       b"content-length: 2\r\nContent-Type: x\r\n\r\n{}")
    assert stream.read()["command"] == "threads"
    assert stream.read() == {}
    with pytest.raises(StreamClosed):
        stream.read()
    stream.write({"a": "é"})
    written = stream.writer.getvalue()
    head, body = written.split(b"\r\n\r\n")
    assert head == b"Content-Length: %d" % len(body) and json.loads(body) == {"a": "é"}


@pytest.mark.parametrize("data, error", [
    (b"Content-Type: json\r\n\r\n", "message header has no Content-Length"),
    (b"Content-Length: ten\r\n\r\n", "bad Content-Length 'ten'"),
    (b"garbage\r\n\r\n", "bad header line 'garbage\\r\\n'"),
    (frame("{not json"), "message body is not JSON"),
    (frame(b"\xff\xfe"), "message body is not JSON"),
    (frame("[1, 2]"), "message body is a JSON list, not an object"),
])
def test_a_bad_message_is_one_error_and_the_next_one_is_read(data, error):
    stream = stream_of(data + frame({"seq": 2}))
    with pytest.raises(BadMessage) as caught:
        stream.read()
    assert str(caught.value).startswith(error) and "\n" not in str(caught.value)
    assert stream.read() == {"seq": 2}


def test_a_cut_off_body_is_the_end_of_the_stream():
    with pytest.raises(StreamClosed):
        stream_of(b"Content-Length: 10\r\n\r\n{}").read()


@pytest.mark.parametrize("message, error", [
    ({"seq": 1, "type": "event", "event": "x"},
     "expected a request, got a message of type 'event'"),
    ({"type": "request", "command": "threads"}, "request has no integer 'seq'"),
    ({"seq": 3, "type": "request"}, "request 3 has no 'command'"),
    ({"seq": 4, "type": "request", "command": "next", "arguments": [1]},
     "next: 'arguments' is not an object"),
])
def test_requests_are_checked(message, error):
    with pytest.raises(RequestError, match=f"^{error}$"):
        Request.parse(message)


def test_arguments_are_typed():
    request = Request.parse({"seq": 1, "type": "request", "command": "readMemory",
                             "arguments": {"count": "8", "flag": 1}})
    with pytest.raises(RequestError, match="^readMemory: argument 'count' must be an integer"):
        request.int("count")
    with pytest.raises(RequestError, match="^readMemory: missing argument 'memoryReference'$"):
        request.str("memoryReference")
    with pytest.raises(RequestError, match="must be true or false"):
        request.bool("flag")
    assert request.int("offset", 0) == 0


def test_the_server_answers_bad_input_with_error_responses():
    """Over stdio: every bad message gets an error response, never a traceback, and a
    good request afterwards still works; disconnect ends the process with status 0."""
    requests = [
        b"Content-Length: x\r\n\r\n",
        frame("{oops"),
        frame({"seq": 1, "type": "request", "command": "frobnicate"}),
        frame({"seq": 2, "type": "request", "command": "stackTrace"}),
        frame({"seq": 3, "type": "request", "command": "launch",
               "arguments": {"program": "/no/such/trace"}}),
        frame({"seq": 4, "type": "request", "command": "initialize",
               "arguments": {"adapterID": "test"}}),
        frame({"seq": 5, "type": "request", "command": "setExceptionBreakpoints",
               "arguments": {"filters": ["all"]}}),
        frame({"seq": 6, "type": "request", "command": "setExceptionBreakpoints",
               "arguments": {"filters": []}}),
        frame({"seq": 7, "type": "request", "command": "disconnect"}),
    ]
    done = subprocess.run([sys.executable, "-m", "rr", "dap"], cwd=REPO,
                          input=b"".join(requests), capture_output=True, timeout=60)
    replies = read_all(done.stdout)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
    errors = [(r["request_seq"], r["message"]) for r in replies if not r["success"]]
    assert errors == [
        (0, "bad Content-Length 'x'"),
        (0, "message body is not JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)"),
        (1, "unknown request 'frobnicate'"),
        (2, "stackTrace: no trace or guest is open yet (launch first)"),
        (3, "launch: /no/such/trace: No such file or directory"),
        (5, "setExceptionBreakpoints: no exception filters are offered, not 'all'"),
    ]
    ok = {r["command"]: r for r in replies if r["success"]}
    assert ok["initialize"]["body"]["supportsStepBack"] is True and "disconnect" in ok
    assert ok["setExceptionBreakpoints"]["body"] == {"breakpoints": []}


def read_all(data: bytes) -> list[dict]:
    stream = stream_of(data)
    messages = []
    while True:
        try:
            messages.append(stream.read())
        except StreamClosed:
            return messages
