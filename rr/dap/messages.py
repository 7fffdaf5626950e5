"""Typed Debug Adapter Protocol requests, and the responses and events sent back.

A request's arguments are read through ``Request`` accessors, which raise
RequestError (one line: which argument of which command, and what is wrong)
instead of letting a KeyError or TypeError escape from the adapter.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from rr.errors import RrError

CAPABILITIES = {
    "supportsConfigurationDoneRequest": True,
    "supportsFunctionBreakpoints": True,
    "supportsStepBack": True,
    "supportsDataBreakpoints": True,
    "supportsDisassembleRequest": True,
    "supportsReadMemoryRequest": True,
    "supportsSteppingGranularity": True,
    "supportsInstructionBreakpoints": False,
    "supportsEvaluateForHovers": False,
    "supportsTerminateRequest": True,
    "supportsGotoTargetsRequest": False,
}


class RequestError(RrError):
    """A request that cannot be carried out; the message is what the client shows."""


_NO_DEFAULT = object()


@dataclass(frozen=True)
class Request:
    seq: int
    command: str
    arguments: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, message: dict) -> "Request":
        if message.get("type") != "request":
            raise RequestError(f"expected a request, got a message of type "
                               f"{message.get('type')!r}")
        seq, command = message.get("seq"), message.get("command")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise RequestError("request has no integer 'seq'")
        if not isinstance(command, str) or not command:
            raise RequestError(f"request {seq} has no 'command'")
        arguments = message.get("arguments", {})
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise RequestError(f"{command}: 'arguments' is not an object")
        return cls(seq, command, arguments)

    def _get(self, name: str, kinds: tuple[type, ...], what: str, default: Any) -> Any:
        value = self.arguments.get(name, _NO_DEFAULT)
        if value is _NO_DEFAULT or value is None:
            if default is _NO_DEFAULT:
                raise RequestError(f"{self.command}: missing argument '{name}'")
            return default
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise RequestError(f"{self.command}: argument '{name}' must be {what}, "
                               f"not {value!r:.40}")
        return value

    def int(self, name: str, default: Any = _NO_DEFAULT) -> int:
        return self._get(name, (int,), "an integer", default)

    def str(self, name: str, default: Any = _NO_DEFAULT) -> str:
        return self._get(name, (str,), "a string", default)

    def bool(self, name: str, default: Any = _NO_DEFAULT) -> bool:
        return self._get(name, (bool,), "true or false", default)

    def object(self, name: str, default: Any = _NO_DEFAULT) -> dict:
        return self._get(name, (dict,), "an object", default)

    def list(self, name: str, default: Any = _NO_DEFAULT) -> list:
        return self._get(name, (list,), "an array", default)

    def objects(self, name: str) -> list[dict]:
        """An optional array of objects (breakpoints and the like)."""
        items = self.list(name, [])
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise RequestError(f"{self.command}: {name}[{index}] is not an object")
        return items


class Outbox:
    """Sequence numbers for everything the adapter sends (responses and events)."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def _next(self) -> int:
        with self._lock:
            return next(self._seq)

    def response(self, request_seq: int, command: str, body: dict | None = None) -> dict:
        message = {"seq": self._next(), "type": "response", "request_seq": request_seq,
                   "success": True, "command": command}
        if body is not None:
            message["body"] = body
        return message

    def error(self, request_seq: int, command: str, text: str) -> dict:
        line = text.splitlines()[0] if text else "error"
        return {"seq": self._next(), "type": "response", "request_seq": request_seq,
                "success": False, "command": command, "message": line,
                "body": {"error": {"id": 1, "format": line, "showUser": True}}}

    def event(self, name: str, body: dict | None = None) -> dict:
        message = {"seq": self._next(), "type": "event", "event": name}
        if body is not None:
            message["body"] = body
        return message
