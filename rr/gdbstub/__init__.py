"""A GDB remote serial protocol server for rrvm guests.

Three layers, as in Mozilla rr (GdbServerConnection / GdbServer / ReplayTimeline):

- ``packets.RspConnection``: framing over one socket (checksums, acks,
  escaping, Ctrl-C between packets); knows nothing of debugging;
- ``server.GdbServer``: debugger semantics (registers, memory, stop points,
  resume and stop replies, monitor commands) against a ``target.DebugTarget``;
- targets: ``replay_target.ReplayTarget`` moves through recorded history with
  ``rr.replay.timeline.Timeline``; a live target implements the same interface.

``listener.GdbListener`` owns the TCP port and serves one client at a time.
"""
