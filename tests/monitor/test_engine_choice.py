"""RRVM_ENGINE and the fallback: which engine a hart gets, and what the user is told."""

from __future__ import annotations

import pytest
from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, Uc

from rr.errors import RrError
from rr.monitor import engine_choice, native_engine
from rr.monitor.engine_choice import ENGINE_VARIABLE, engine_name, make_engine

from conftest import run_rrvm


def fresh_uc() -> Uc:
    return Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)


@pytest.fixture
def no_library(monkeypatch):
    """As on a machine where the C library was not built."""
    monkeypatch.setattr(native_engine, "library_path", lambda: None)
    native_engine.load_library.cache_clear()
    engine_choice._warn_once.cache_clear()
    yield
    native_engine.load_library.cache_clear()


def test_the_native_engine_by_default(monkeypatch):
    monkeypatch.delenv(ENGINE_VARIABLE, raising=False)
    assert make_engine(fresh_uc()).name == "native"
    assert engine_name() == "native"


def test_hook_engine_on_request(monkeypatch):
    monkeypatch.setenv(ENGINE_VARIABLE, "hook")
    assert make_engine(fresh_uc()).name == "hook"
    assert engine_name() == "hook"


def test_without_the_library_the_hook_engine_runs_and_says_why(monkeypatch, no_library, capsys):
    monkeypatch.delenv(ENGINE_VARIABLE, raising=False)
    assert make_engine(fresh_uc()).name == "hook"
    assert make_engine(fresh_uc()).name == "hook"
    err = capsys.readouterr().err
    assert err.count("\n") == 1                      # once per process
    assert "native engine cannot run" in err and "not built" in err and "hook engine runs" in err
    assert engine_name() == "hook"


def test_demanding_the_native_engine_without_it_is_an_error(monkeypatch, no_library):
    monkeypatch.setenv(ENGINE_VARIABLE, "native")
    with pytest.raises(RrError, match="RRVM_ENGINE=native, but the native engine cannot run"):
        make_engine(fresh_uc())


def test_an_unknown_engine_is_one_error_line(monkeypatch):
    monkeypatch.setenv(ENGINE_VARIABLE, "turbo")
    proc = run_rrvm("run", "guests/bin/hello.elf")
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1
    assert lines == ["rrvm: error: RRVM_ENGINE='turbo' is not an engine (use native, hook or auto)"]
