"""Seeded RSP fuzzing of `rrvm debug --gdb`: random and mutated packets never break the stub.

Packets from a corpus of what gdb and lldb send, mutated (cut short, bytes
flipped, lengths made huge, binary X payloads, unknown letters), sent with
bad checksums, with Ctrl-C (0x03) between and inside them, and raw garbage
between frames. After every case a `monitor icount` round trip must come
back: the stub answered everything before it and is alive. Every packet it
sends must be well formed (checksum, hex where hex is due is the client's
check), bytes outside packets only acks. At the end stock gdb-multiarch
attaches and reads the registers. Seeded: a failure names its case and
replays with the same seed.
"""

from __future__ import annotations

import random
import re
import time

import pytest

from gdb_helpers import GDB, DebugServer, RspClient, checksum, record, run_gdb

SEED = 18
CASES = 400
TIME_BUDGET = 60            # seconds for all cases, on a loaded machine (a few idle)

CORPUS = [
    "?", "g", "G" + "00" * 66 * 8, "p20", "p0", "P5=0100000000000000", "m80200000,40",
    "M80200000,4:13000000", "X80200000,4:abcd", "qSupported:multiprocess+;swbreak+;hwbreak+",
    "qXfer:features:read:target.xml:0,ffb", "qfThreadInfo", "qsThreadInfo", "qC", "qAttached",
    "Hg0", "Hc-1", "T1", "vCont?", "vCont;s:1", "vCont;c", "s", "c", "bs", "bc",
    "Z0,80200000,2", "z0,80200000,2", "Z1,80200010,4", "Z2,80201000,8", "z2,80201000,8",
    "Z3,80201000,4", "Z4,80201000,4", "qRcmd," + "help".encode().hex(),
    "qRcmd," + "when 80200000".encode().hex(), "QStartNoAckMode", "qOffsets",
    "qTStatus", "vMustReplyEmpty", "qSymbol::", "QThreadEvents:1", "qHostInfo",
    "qProcessInfo", "jThreadsInfo", "x80200000,10", "QNonStop:0", "vFile:open:2f,0,0",
]
def forbidden(payload: bytes) -> bool:
    """k and vKill end the server, D and R end or restart the session: not fuzzed."""
    return payload in (b"k", b"D", b"R", b"r") or payload.startswith((b"vKill", b"D;"))


def escape(data: bytes) -> bytes:
    out = bytearray()
    for byte in data:
        if byte in b"$#}*":
            out += bytes((0x7D, byte ^ 0x20))
        else:
            out.append(byte)
    return bytes(out)


def mutate(rng: random.Random) -> bytes:
    """One packet payload: from the corpus, mutated, or made up."""
    choice = rng.random()
    if choice < 0.15:                                     # binary X with a huge/odd length
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        length = rng.choice([len(data), len(data) + 1, 0, 0xFFFFFFFFFFFF, 1 << 64])
        return f"X{rng.choice([0, 0x80200000, 0xFFFFFFFFFFFFFFF0]):x},{length:x}:".encode() \
            + escape(data)
    if choice < 0.25:                                     # huge lengths and addresses
        letter = rng.choice("mMZzxX")
        kind = f"{rng.randrange(5)}," if letter in "Zz" else ""
        return (f"{letter}{kind}{rng.choice([0, 0x80200000, 2**64 - 1, 2**80]):x},"
                f"{rng.choice([0, 1, 0xFFFFFFFF, 0xFFFFFFFFFFF0, 2**70]):x}").encode()
    if choice < 0.35:                                     # unknown letters and words
        return bytes(rng.choice(b"AaBbEeFfIiJjLlNnOoUuWwYy!@%^&()[]{}") for _ in
                     range(rng.randrange(1, 12)))
    payload = bytearray(rng.choice(CORPUS).encode())
    for _ in range(rng.randrange(1, 4)):
        op = rng.random()
        if op < 0.3 and payload:                          # cut short
            del payload[rng.randrange(len(payload)):]
        elif op < 0.6 and payload:                        # flip a byte
            at = rng.randrange(len(payload))
            payload[at] = rng.choice(b"0123456789abcdefxyz,;:=-+ \x00\xff")
        elif op < 0.8:                                    # grow a number
            payload += rng.choice([b"f" * 20, b"0" * 40, b",", b";", b":"])
        else:                                             # duplicate a piece
            payload += payload[: rng.randrange(len(payload) + 1)]
    return escape(bytes(payload).replace(b"}", b"")) if b"}" in payload else bytes(payload)


def frame(payload: bytes, rng: random.Random) -> bytes:
    digits = f"{checksum(payload):02x}".encode()
    if rng.random() < 0.1:
        digits = f"{(checksum(payload) + 1) & 0xFF:02x}".encode()     # bad checksum
    if rng.random() < 0.03:
        digits = b"zz"                                                 # not hex
    return b"$" + payload + b"#" + digits


def garbage(rng: random.Random) -> bytes:
    """Bytes between frames: never '$' (that starts a frame), 0x03 among them."""
    return bytes(rng.choice(b"\x03+-#xyz\x00\xff \n") for _ in range(rng.randrange(0, 6)))


def sync(gdb: RspClient) -> None:
    """`monitor icount`, read past every earlier reply: the stub answered all before it."""
    gdb.send_raw(b"$qRcmd," + b"icount".hex().encode() + b"#" +
                 f"{checksum(b'qRcmd,' + b'icount'.hex().encode()):02x}".encode())
    text = ""
    while True:
        reply = gdb.read_packet()                     # checksum checked by the client
        if reply.startswith("O") and all(c in "0123456789abcdef" for c in reply[1:]):
            text += bytes.fromhex(reply[1:]).decode(errors="replace")
        elif reply == "OK" and re.search(r"icount \d+", text):   # maybe after what it tells late
            return
        else:
            text = ""                                 # an earlier packet's reply


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    return record("timer", tmp_path_factory.mktemp("fuzz") / "timer.rr")


def test_random_packets_never_break_the_stub(trace):
    rng = random.Random(SEED)
    started = time.monotonic()
    with DebugServer(trace) as server:
        for connection in range(2):                   # ack mode, then no-ack mode
            with RspClient(server.port) as gdb:
                if connection:
                    gdb.start_no_ack()
                for case in range(CASES // 2):
                    payload = mutate(rng)
                    if forbidden(payload):
                        continue
                    data = garbage(rng) + frame(payload, rng)
                    if rng.random() < 0.1:                    # Ctrl-C inside the frame
                        at = rng.randrange(1, len(data))
                        data = data[:at] + b"\x03" + data[at:]
                    gdb.send_raw(data + garbage(rng))
                    try:
                        sync(gdb)
                    except Exception as exc:
                        raise AssertionError(f"case {connection}/{case}: after {data!r}: "
                                             f"{exc!r}") from exc
                    assert server.proc.poll() is None, f"case {case}: the stub exited"
                assert set(b"".join(gdb.acks)) <= set(b"+-"), gdb.acks[:20]
        assert time.monotonic() - started < TIME_BUDGET
        assert "Traceback" not in server.stderr
        if GDB is None:
            pytest.skip("gdb-multiarch is not installed")
        run = run_gdb("timer.elf", server.port, ["info registers pc", "stepi", "x/i $pc"])
        assert "pc " in run.stdout and "=>" in run.stdout, run.output
