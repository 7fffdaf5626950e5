"""Every number and fixed string of the GDB remote protocol as rrvm speaks it.

What stock gdb-multiarch 13.1 sends and expects, and the tests that pin it,
are in docs/gdb-protocol.md; the values here follow it.
"""

from __future__ import annotations

# --- Listening --------------------------------------------------------------
DEFAULT_ADDRESS = "127.0.0.1"    # a debugger stub can read and steer the guest: local only by default
MAX_PORT = 65535                 # --gdb 0 asks the system for a free port (printed)
LISTEN_BACKLOG = 4
# A second client is refused with one error reply; wait this long for its first packet.
REFUSAL_TIMEOUT_SECONDS = 2.0
# Before refusing a client as a second one, wait this long for the current
# session to end (its client may have just disconnected, unnoticed so far).
BUSY_GRACE_SECONDS = 1.0

# --- Framing ----------------------------------------------------------------
# Advertised in qSupported; gdb sizes its packets (and memory reads) to it.
PACKET_SIZE = 0x4000
# Longest packet body accepted (escaped X data may exceed PacketSize a little);
# anything longer is discarded and answered with an error, never buffered whole.
MAX_INCOMING_PACKET = 2 * PACKET_SIZE
# Largest memory read answered at once (two hex digits per byte must fit a packet).
MAX_MEMORY_READ = PACKET_SIZE // 2 - 16
# Monitor output is sent in O packets of at most this many bytes of text.
MONITOR_CHUNK = PACKET_SIZE // 2 - 16
RECV_SIZE = 4096
# Times a reply is sent again when gdb answers it with '-' (ack mode only).
MAX_RETRANSMITS = 3

PACKET_START = ord("$")
PACKET_END = ord("#")
ESCAPE = ord("}")
RUN_LENGTH = ord("*")
ESCAPE_XOR = 0x20
ACK = ord("+")
NACK = ord("-")
INTERRUPT = 0x03                 # Ctrl-C from gdb, between packets, while the target runs
ESCAPED_BYTES = frozenset(b"#$}*")
RUN_LENGTH_BIAS = 29             # '*' followed by chr(n + 29) repeats the previous byte n times

ADDRESS_SPACE = 1 << 64          # stop points must lie inside it

# --- Threads and signals ----------------------------------------------------
THREAD_ID = 1                    # one hart, one thread; ids 0 and -1 mean "any" / "all"
ANY_THREAD = 0
ALL_THREADS = -1
SIGINT = 2
SIGTRAP = 5
SIGSEGV = 11

# --- Error replies ----------------------------------------------------------
ERROR_BAD_ARGUMENT = "E01"       # a packet we understand, with arguments we cannot parse
ERROR_NO_REGISTER = "E00"        # a register number not in the target description
ERROR_FAULT = "E14"              # EFAULT: memory not mapped (page fault, device, beyond RAM)
# Refused memory writes told at the next resume or monitor command; the rest are counted.
UNTOLD_LIMIT = 8

# qSupported features (docs/gdb-protocol.md, G2: never multiprocess+, thread ids would become pP.T).
SUPPORTED_FEATURES = (
    f"PacketSize={PACKET_SIZE:x}",
    "qXfer:features:read+",
    "swbreak+",
    "hwbreak+",
    "vContSupported+",
    "QStartNoAckMode+",
    "ReverseStep+",
    "ReverseContinue+",
)
VCONT_ACTIONS = "vCont;c;C;s;S"

# lldb's questions (gdb never asks them; docs/gdb-protocol.md, G19). A watchpoint stop is
# reported before the access, as gdb wants (G12): lldb must be told, or it assumes the
# access has executed and never steps over it. The stub has no slot limit; lldb wants one.
LLDB_HOST_INFO = "watchpoint_exceptions_received:before;endian:little;ptrsize:8;"
LLDB_WATCHPOINT_SLOTS = 1024

# Z packet types.
Z_SOFTWARE_BREAK = 0
Z_HARDWARE_BREAK = 1
Z_WRITE_WATCH = 2
Z_READ_WATCH = 3
Z_ACCESS_WATCH = 4

# --- Monitor commands -------------------------------------------------------
DEFAULT_WATCH_LENGTH = 1         # `monitor last-write ADDR`: bytes watched
MAX_WATCH_LENGTH = 1 << 20
