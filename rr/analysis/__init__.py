"""Analyses over a whole recorded history, built on the Timeline's queries.

- ``logpoints``: every time the pc reached an address, with values there
  (retroactive logging);
- ``origin``: where a value in memory or a register came from, walked back
  instruction by instruction (backwards data flow);
- ``diff``: where two recordings of the same guest part.

Each module computes a result (dataclasses, with ``to_json``) and formats it
as text; the REPL, gdb's ``monitor`` commands and the ``rrvm`` subcommands
only parse arguments and print. The design is in docs/analyses.md.
"""
