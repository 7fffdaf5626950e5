"""One module per rrvm subcommand; each has ``add_arguments(parser)`` and ``run(args) -> int``.

Every invocation builds every subcommand's parser, so a command module
imports at its top only what its arguments need; what a command runs (the
gdb stub, the replay engine, the REPL) is imported inside its ``run``, so
that `rrvm run` does not load the debugger and start-up stays short
(tests/test_startup.py checks which modules a run loads).
"""
