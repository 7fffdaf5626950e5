"""Which counting engine a hart runs on: the one place that decides.

``RRVM_ENGINE`` selects it: ``native`` (per-block counting in C; an error if
it cannot attach), ``hook`` (unicorn's per-instruction count hook), or unset
/ ``auto``: native when it attaches, else the hook engine with one line on
stderr saying why. Both engines count the same way (``Cpu.icount``,
``Cpu.icount_in_hook`` and ``RunStop`` mean the same), so a trace recorded
with one replays with the other.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache

from unicorn import Uc

from rr.errors import RrError
from rr.monitor.hook_engine import HOOK_ENGINE, HookEngine
from rr.monitor.native_engine import (
    NATIVE_ENGINE, NativeEngine, NativeUnavailable, attach, load_library, probe,
)

ENGINE_VARIABLE = "RRVM_ENGINE"
AUTO = "auto"
ENGINE_NAMES = (NATIVE_ENGINE, HOOK_ENGINE)


def requested_engine() -> str:
    value = os.environ.get(ENGINE_VARIABLE, "").strip().lower() or AUTO
    if value not in (AUTO, *ENGINE_NAMES):
        raise RrError(f"{ENGINE_VARIABLE}={value!r} is not an engine "
                      f"(use {', '.join(ENGINE_NAMES)} or {AUTO})")
    return value


@lru_cache(maxsize=1)
def _warn_once(reason: str) -> None:
    print(f"rrvm: the native engine cannot run ({reason}); the hook engine runs",
          file=sys.stderr)


def make_engine(uc: Uc) -> NativeEngine | HookEngine:
    """The counting engine for a fresh unicorn engine, by ``RRVM_ENGINE``."""
    wanted = requested_engine()
    if wanted == HOOK_ENGINE:
        return HookEngine(uc)
    try:
        return attach(uc)
    except NativeUnavailable as exc:
        if wanted == NATIVE_ENGINE:
            raise RrError(f"{ENGINE_VARIABLE}=native, but the native engine cannot run: {exc}") from None
        _warn_once(str(exc))
        return HookEngine(uc)


def engine_name() -> str:
    """The engine a new hart of this process gets (for a trace header), without making one."""
    wanted = requested_engine()
    if wanted == HOOK_ENGINE:
        return HOOK_ENGINE
    try:
        load_library()
        return HOOK_ENGINE if probe() else NATIVE_ENGINE
    except NativeUnavailable:
        return HOOK_ENGINE
