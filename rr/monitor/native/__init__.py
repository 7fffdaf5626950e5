"""The native counting engine's C source and, once built, its shared library.

``rrvm_native.c`` is compiled by setuptools when the package is installed (see
setup.py) and loaded with ctypes by ``rr/monitor/native_engine.py``; nothing
here is imported as a Python extension.
"""
