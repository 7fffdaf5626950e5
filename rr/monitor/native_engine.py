"""Attaching the native counting engine to a unicorn engine (the ctypes boundary).

The C library (``rr/monitor/native/rrvm_native.c``, built at install time)
counts instructions per translated block instead of per instruction: one
``UC_HOOK_BLOCK`` callback adds each block's instruction count, read from the
block's ``TranslationBlock`` record; a block that would overshoot the run's
budget is not entered, and its first k instructions run as a block of their
own (``CPUState.cflags_next_tb = k``). Positions inside a block (a trap, an
MMIO access, a hook) are recounted by decoding instruction lengths from the
block's start. S-mode rdtime under the virtual clock is answered in C.

It relies on unicorn internals (docs/native-engine.md lists each one and the
test that pins it). ``attach`` checks every one of them on the engine it
attaches to, after a probe on a scratch engine compared the native counts with
a model of a known program (``probe``); any failure raises
``NativeUnavailable`` with the reason, and the caller runs the count-hook
engine instead.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
from functools import lru_cache
from pathlib import Path
from typing import Callable

from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, Uc, UcError
from unicorn import riscv_const as rc
from unicorn.unicorn_py3.unicorn import uclib

from rr.errors import RrError
from rr.monitor.clock import VirtualClock
from rr.monitor.constants import PRIV_S, RAM_BASE, UNTIL_NEVER
from rr.monitor.run_stop import RunStop

NATIVE_ENGINE = "native"
LIBRARY_DIR = Path(__file__).resolve().parent / "native"
LIBRARY_STEM = "_rrvm_native"

# Offsets the C code uses (unicorn 2.1.4, x86-64 host), repeated here only to check them.
CPU_ENV_OFFSET = 36112          # &RISCVCPU.env - &CPUState
NO_NEXT_TB_CFLAGS = -1          # CPUState.cflags_next_tb when no TB shape is requested

# Every field of the C struct rrvm_engine, in order; all are 8 bytes wide.
_FIELDS = (
    "uc", "cpu", "env",
    "fn_emu_stop", "fn_reg_read", "fn_reg_write2", "fn_vmem_read", "fn_hook_add", "fn_restore",
    "py_intr", "py_invalid", "reg_pc", "reg_priv", "reg_x0",
    "enabled", "budget", "raw", "block_pc", "block_size", "block_base", "block_valid",
    "settled", "frozen", "count_reached", "failed",
    "time_native", "run_base", "insns_per_tick", "tick_offset",
    "blocks", "record_misses", "splits", "time_reads", "traps_recounted",
    "keep_code", "block_code_len",
)
BLOCK_CODE_WORDS = (4096 + 8) // 8      # the C side's copy of the current block's code

# Why the C side gave up on a run (FAIL_* in the C source).
FAILURES = {1: "a block record did not validate and its code was unreadable",
            2: "the code before the trapping or accessing instruction was unreadable",
            3: "the MMIO access could not be traced back to its instruction"}

_INTR_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
_INVALID_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p)
_U64 = ctypes.c_uint64


class EngineState(ctypes.Structure):
    """The C struct rrvm_engine, shared between Python and the hooks."""

    _fields_ = [*((name, ctypes.c_uint64) for name in _FIELDS),
                ("block_code", ctypes.c_uint64 * BLOCK_CODE_WORDS)]


class NativeUnavailable(RrError):
    """The native engine cannot run here; the message says why."""


class NativeEngineFault(RrError):
    """The native engine lost an exact count (a block it could not decode)."""

    exit_status = 3


def library_path() -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = LIBRARY_DIR / f"{LIBRARY_STEM}{suffix}"
        if path.exists():
            return path
    return None


@lru_cache(maxsize=1)
def load_library() -> ctypes.CDLL:
    path = library_path()
    if path is None:
        raise NativeUnavailable(f"its library is not built (no {LIBRARY_STEM}*.so in the package; "
                                "build it with `python3 setup.py build_ext --inplace`)")
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise NativeUnavailable(f"its library {path.name} does not load: {exc}") from None
    _declare(lib)
    if lib.rrvm_engine_size() != ctypes.sizeof(EngineState):
        raise NativeUnavailable(f"its library {path.name} is out of date with the package "
                                "(engine state size differs)")
    return lib


def _declare(lib: ctypes.CDLL) -> None:
    state = ctypes.POINTER(EngineState)
    signatures = {
        "rrvm_engine_size": (_U64, []),
        "rrvm_uc_cpu": (_U64, [_U64]), "rrvm_cpu_uc": (_U64, [_U64]),
        "rrvm_cpu_env_ptr": (_U64, [_U64]), "rrvm_cpu_env": (_U64, [_U64]),
        "rrvm_cpu_cflags_next_tb": (ctypes.c_int64, [_U64]),
        "rrvm_cpu_mem_io_pc": (_U64, [_U64]), "rrvm_env_pc": (_U64, [_U64]),
        "rrvm_set_env_pc": (None, [_U64, _U64]), "rrvm_env_rdtime_fn": (_U64, [_U64]),
        "rrvm_attach": (ctypes.c_int, [state]),
        "rrvm_begin": (None, [state, _U64, _U64]),
        "rrvm_finish": (_U64, [state, ctypes.c_int]),
        "rrvm_hook_raw": (_U64, [state, ctypes.c_int]),
        "rrvm_stop": (None, [state, ctypes.c_int]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes


def _address(function) -> int:
    return ctypes.cast(function, ctypes.c_void_p).value or 0


def unicorn_function(name: str) -> int:
    """Address of an exported function of libunicorn (the one the binding loaded)."""
    try:
        address = _address(getattr(uclib, name))
    except AttributeError:
        address = 0
    if not address:
        raise NativeUnavailable(f"libunicorn does not export {name}")
    return address


# --- the unicorn internals, checked on one engine ------------------------------
def check_internals(lib: ctypes.CDLL, uc: Uc) -> tuple[int, int]:
    """(cpu, env) of ``uc`` after checking every internal the C code reads, or raise."""
    handle = ctypes.cast(uc._uch, ctypes.c_void_p).value  # noqa: SLF001 - no public accessor
    pc = uc.reg_read(rc.UC_RISCV_REG_PC)     # also makes unicorn build its CPU (done lazily)
    cpu = lib.rrvm_uc_cpu(handle)
    if not cpu or lib.rrvm_cpu_uc(cpu) != handle:
        raise NativeUnavailable("uc_struct.cpu does not lead back to the engine (CPUState.uc)")
    env = lib.rrvm_cpu_env(cpu)
    if lib.rrvm_cpu_env_ptr(cpu) != env:
        raise NativeUnavailable("CPUState.env_ptr is not where the RISC-V env was expected")
    if lib.rrvm_env_pc(env) != pc:
        raise NativeUnavailable("env.pc does not hold the program counter")
    for probe in (0x8765_4320, 0x1234_5678_9ABC_DEF0):
        lib.rrvm_set_env_pc(env, probe)
        if uc.reg_read(rc.UC_RISCV_REG_PC) != probe:
            lib.rrvm_set_env_pc(env, pc)
            raise NativeUnavailable("a write to env.pc is not the program counter unicorn reads")
    lib.rrvm_set_env_pc(env, pc)
    if lib.rrvm_cpu_cflags_next_tb(cpu) != NO_NEXT_TB_CFLAGS:
        raise NativeUnavailable("CPUState.cflags_next_tb does not read as 'none requested'")
    if lib.rrvm_env_rdtime_fn(env) != 0:
        raise NativeUnavailable("env.rdtime_fn is set, so rdtime would not trap to the monitor")
    return cpu, env


class NativeEngine:
    """Positions from per-block counts (the C library) on one unicorn engine."""

    name = NATIVE_ENGINE

    def __init__(self, lib: ctypes.CDLL, uc: Uc) -> None:
        self.lib = lib
        self.uc = uc
        cpu, env = check_internals(lib, uc)
        state = self.state = EngineState()
        self._ref = ctypes.byref(state)
        state.uc = ctypes.cast(uc._uch, ctypes.c_void_p).value  # noqa: SLF001
        state.cpu, state.env = cpu, env
        for field, symbol in (("fn_emu_stop", "uc_emu_stop"), ("fn_reg_read", "uc_reg_read"),
                              ("fn_reg_write2", "uc_reg_write2"), ("fn_vmem_read", "uc_vmem_read"),
                              ("fn_hook_add", "uc_hook_add"),
                              ("fn_restore", "cpu_restore_state_riscv64")):
            setattr(state, field, unicorn_function(symbol))
        state.reg_pc, state.reg_priv = rc.UC_RISCV_REG_PC, rc.UC_RISCV_REG_PRIV
        state.reg_x0 = rc.UC_RISCV_REG_X0
        self._on_exception: Callable | None = None
        self._on_invalid: Callable | None = None
        self._hook_error: BaseException | None = None
        self._thunks = (_INTR_CALLBACK(self._call_exception), _INVALID_CALLBACK(self._call_invalid))
        self._clock: VirtualClock | None = None
        self.executed = 0
        if lib.rrvm_attach(self._ref):
            raise NativeUnavailable("unicorn refused the native hooks")
        state.enabled = 1

    # --- hooks the monitor registers -------------------------------------------
    def on_exception(self, callback: Callable) -> None:
        """Synchronous traps go to ``callback(uc, cause, user)`` after the native part."""
        self._on_exception = callback
        self.state.py_intr = _address(self._thunks[0])

    def on_invalid(self, callback: Callable) -> None:
        self._on_invalid = callback
        self.state.py_invalid = _address(self._thunks[1])

    def _call_exception(self, _uc, cause: int, _user) -> None:
        try:
            self._on_exception(self.uc, cause, None)
        except BaseException as exc:   # noqa: BLE001 - re-raised after the run
            self._fail_in_hook(exc)

    def _call_invalid(self, _uc, _user) -> bool:
        try:
            return bool(self._on_invalid(self.uc, None))
        except BaseException as exc:   # noqa: BLE001 - re-raised after the run
            self._fail_in_hook(exc)
            return False

    def _fail_in_hook(self, exc: BaseException) -> None:
        if self._hook_error is None:
            self._hook_error = exc
        self.lib.rrvm_stop(self._ref, 0)

    # --- clock -------------------------------------------------------------------
    def use_clock(self, clock: VirtualClock | None) -> None:
        """Answer S-mode time reads natively from this virtual clock (None: never)."""
        self._clock = clock if clock is not None and clock.insns_per_tick > 0 else None

    # --- running -----------------------------------------------------------------
    def run(self, pc: int, max_insns: int, icount: int) -> RunStop:
        state, lib = self.state, self.lib
        lib.rrvm_begin(self._ref, max_insns, icount)
        clock = self._clock
        if clock is not None:
            # Read every run: the offset moves only between runs (wfi skips, restores).
            state.time_native = 1
            state.insns_per_tick, state.tick_offset = clock.insns_per_tick, clock.offset
        else:
            state.time_native = 0
        error = None
        try:
            self.uc.emu_start(pc, UNTIL_NEVER, 0, 0)
        except UcError as exc:
            error = exc
        finally:
            self.executed = lib.rrvm_finish(self._ref, error is not None)
        if state.failed:
            why, state.failed = FAILURES.get(state.failed, "?"), 0
            raise NativeEngineFault(
                f"the native engine lost count in the block at pc {state.block_pc:#x}: {why} "
                f"(after {icount + self.executed} instructions); run with RRVM_ENGINE=hook")
        if self._hook_error is not None:
            exc, self._hook_error = self._hook_error, None
            raise exc
        return RunStop(self.executed, bool(state.count_reached), error)

    def keep_block_code(self, keep: bool) -> None:
        """Copy each block's code when it is entered, for positions inside memory hooks
        (which must not read guest memory through unicorn: see the C side)."""
        self.state.keep_code = int(keep)

    def hook_raw(self, mmio: bool) -> int:
        """Instructions of the current run begun so far, the current one included."""
        return self.lib.rrvm_hook_raw(self._ref, mmio)

    def stop(self, mmio: bool) -> None:
        self.lib.rrvm_stop(self._ref, mmio)


def attach(uc: Uc) -> NativeEngine:
    """The native engine on ``uc``, or NativeUnavailable saying why not."""
    lib = load_library()
    problem = probe()
    if problem:
        raise NativeUnavailable(problem)
    return NativeEngine(lib, uc)


# --- the probe: a known program, counted natively and by a model ----------------
# addi t0,t0,1 ; c.addi t1,1 ; sw t0,0(a1) (MMIO) ; rdtime t2 ; c.addi t1,1 ; j start
PROBE_CODE = bytes.fromhex("93821200" "0503" "23a05500" "f32310c0" "0503" "6ff01fff")
PROBE_OFFSETS = (0, 4, 6, 10, 14, 16)        # of each instruction; the loop is 20 bytes
PROBE_MMIO = 0x1000_0000
PROBE_CHUNKS = (1, 2, 3, 5, 7, 11, 13, 40, 97, 6, 4)
PROBE_LENGTH = 599


def probe_model(count: int) -> dict[str, object]:
    """What the probe program holds after ``count`` instructions from its start."""
    loops, rest = divmod(count, len(PROBE_OFFSETS))
    t1 = 2 * loops + (rest > 1) + (rest > 4)
    last_time = (count - 4) // 6 * 6 + 3 if count > 3 else 0     # the last rdtime's index
    return {"pc": RAM_BASE + PROBE_OFFSETS[rest], "t0": loops + (rest > 0), "t1": t1,
            "t2": last_time,
            "mmio": [i for i in range(count) if i % 6 == 2]}


def _probe_run(lib: ctypes.CDLL, chunks: tuple[int, ...], total: int) -> dict[str, object]:
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(RAM_BASE, 0x1000)
    uc.mem_write(RAM_BASE, PROBE_CODE)
    uc.reg_write(rc.UC_RISCV_REG_PRIV, PRIV_S)
    uc.reg_write(rc.UC_RISCV_REG_A1, PROBE_MMIO)
    uc.reg_write(rc.UC_RISCV_REG_PC, RAM_BASE)
    engine = NativeEngine(lib, uc)
    engine.use_clock(VirtualClock(1))
    icount, mmio = 0, []
    unexpected: list[int] = []

    def write(_uc, _offset, _size, _value, _user) -> None:
        mmio.append(icount + engine.hook_raw(True) - 1)

    uc.mmio_map(PROBE_MMIO, 0x1000, None, None, write, None)
    engine.on_exception(lambda _uc, cause, _user: unexpected.append(cause) or engine.stop(False))
    index = 0
    while icount < total:
        budget = min(chunks[index % len(chunks)], total - icount)
        index += 1
        stop = engine.run(uc.reg_read(rc.UC_RISCV_REG_PC), budget, icount)
        icount += stop.executed
        if stop.error is not None or unexpected or not stop.count_reached:
            break
    state = engine.state
    return {"pc": uc.reg_read(rc.UC_RISCV_REG_PC), "t0": uc.reg_read(rc.UC_RISCV_REG_T0),
            "t1": uc.reg_read(rc.UC_RISCV_REG_T1), "t2": uc.reg_read(rc.UC_RISCV_REG_T2),
            "mmio": mmio, "icount": icount, "record_misses": state.record_misses,
            "blocks": state.blocks, "splits": state.splits, "time_reads": state.time_reads,
            "traps": unexpected}


@lru_cache(maxsize=1)
def probe() -> str:
    """'' when the native engine counts the probe program exactly, else what went wrong."""
    lib = load_library()
    for chunks in ((PROBE_LENGTH,), PROBE_CHUNKS):
        try:
            got = _probe_run(lib, chunks, PROBE_LENGTH)
        except (NativeUnavailable, UcError) as exc:
            return f"probe failed: {exc}"
        want = probe_model(PROBE_LENGTH)
        if got["traps"]:
            return f"probe program trapped to the monitor (causes {got['traps']})"
        if got["icount"] != PROBE_LENGTH:
            return f"probe ran {got['icount']} instructions instead of {PROBE_LENGTH}"
        for key, value in want.items():
            if got[key] != value:
                return f"probe counted wrongly ({key}: {got[key]!r}, expected {value!r})"
        if got["record_misses"] or not got["blocks"]:
            return ("the TranslationBlock record did not validate "
                    f"({got['record_misses']} of {got['blocks']} blocks)")
        if len(chunks) > 1 and not got["splits"]:
            return "probe never split a block (cflags_next_tb unused)"
        if not got["time_reads"]:
            return "probe's rdtime was not answered natively"
    return ""
