"""A GDB remote serial protocol server for rrvm guests.

Three layers, as in Mozilla rr (GdbServerConnection / GdbServer / ReplayTimeline):

- ``packets.RspConnection``: framing over one socket (checksums, acks,
  escaping, Ctrl-C between packets); knows nothing of debugging;
- ``server.GdbServer``: debugger semantics (registers, memory, stop points,
  resume and stop replies, monitor commands) against a ``target.DebugTarget``;
- targets: ``replay_target.ReplayTarget`` moves through recorded history with
  ``rr.replay.timeline.Timeline``; a live target implements the same interface.

``listener.GdbListener`` owns the TCP port and serves one client at a time.
The clients are gdb-multiarch and lldb (docs/gdb-protocol.md). ``gdb/`` holds
scripts for gdb's own Python, loaded with `source` (the trap-frame unwinder).
"""
