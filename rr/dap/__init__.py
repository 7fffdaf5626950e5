"""A Debug Adapter Protocol server over recorded history (`rrvm dap`).

framing.py moves messages (Content-Length headers and JSON), messages.py
turns them into typed requests and replies, source_lines.py maps addresses
to source lines, call_stack.py and inline_scopes.py find the frames and
locals.py the variables (all from DWARF), adapter.py gives each request its
meaning against the REPL's Debugger, and server.py runs a session.
docs/dap-protocol.md has the facts they rely on.
"""
