"""The time-travel REPL (`rrvm repl TRACE`): plain commands over a recorded trace.

symbols.py (guest symbols), expressions.py (addresses as typed), instructions.py
(capstone listings, calls and branches), debugger.py (the Timeline and the
questions asked of it), formatting.py (colour or plain output), commands.py
(the command table and its output), completion.py and app.py (prompt-toolkit).
"""
