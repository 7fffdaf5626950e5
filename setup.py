"""Builds the native counting engine (a plain C library loaded with ctypes).

Everything else about the package is in pyproject.toml. The C file needs no
unicorn headers: libunicorn's functions are handed to it at attach time.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "rr.monitor.native._rrvm_native",
    sources=["rr/monitor/native/rrvm_native.c"],
    extra_compile_args=["-O2", "-std=c11"],
)])
