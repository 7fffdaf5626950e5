"""The GDB stub at the packet level: framing, acks, escaping, hostile input, clients.

Pure framing functions are tested directly; everything else talks to a real
`rrvm debug` over TCP with a raw-socket client, because what matters is what
a client on the wire sees (and that the server keeps serving whatever it gets).
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
import xml.etree.ElementTree as ElementTree

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gdb_helpers import REPO, RRVM, DebugServer, RspClient, framed, icount_of, record
from rr.gdbstub import packets
from rr.gdbstub.constants import MAX_INCOMING_PACKET
from rr.gdbstub.registers import FIRST_CSR_REGNUM, PRIV_REGNUM
from rr.gdbstub.replay_target import READ_ONLY_REASON
from rr.gdbstub.target_xml import target_xml
from rr.monitor.constants import (CSR_MSTATUS, CSR_SATP, CSR_SSTATUS, CSR_STIMECMP, CSR_TIME,
                                  KERNEL_LOAD_ADDR, VIRTUAL_INSNS_PER_TICK)

# --- framing, without a server -------------------------------------------------------


def test_checksum_and_frame():
    assert packets.checksum(b"qSupported") == 0x37
    assert packets.frame(b"OK") == b"$OK#9a"


def test_escape_and_decode_round_trip_special_bytes():
    data = bytes(range(256)) + b"#$}*"
    escaped = packets.escape_binary(data)
    assert not any(byte in escaped for byte in b"#$*")
    assert packets.decode_body(escaped) == data


@given(st.binary(max_size=300))
def test_escape_round_trip(data):
    assert packets.decode_body(packets.escape_binary(data)) == data


def test_run_length_decoding():
    # "0* " is "0" repeated 3 more times (' ' is 32, 32 - 29 = 3).
    assert packets.decode_body(b"0* ") == b"0000"
    assert packets.decode_body(b"ab*\"c") == b"abbbbbbc"      # '"' is 34: 5 more


def _pair():
    left, right = socket.socketpair()
    return packets.RspConnection(left), right


def test_connection_acks_and_skips_garbage():
    conn, peer = _pair()
    peer.sendall(b"garbage+-\x00" + framed("qC") + b"$qBad#00" + framed("g"))
    assert conn.read_packet() == b"qC"
    assert conn.read_packet() == b"g"
    assert peer.recv(16) == b"+-+"           # ack, nack for the bad checksum, ack
    assert conn.garbage_bytes == len(b"garbage") + 1


def test_connection_dollar_resynchronises_a_torn_packet():
    conn, peer = _pair()
    peer.sendall(b"$qSupp" + framed("qC"))
    assert conn.read_packet() == b"qC"


def test_connection_interrupt_only_between_packets():
    conn, peer = _pair()
    peer.sendall(framed(b"X80200000,1:\x03") + b"\x03")
    assert conn.read_packet() == b"X80200000,1:\x03"      # 0x03 inside a packet is data
    assert conn.poll_interrupt()                           # the one after it is Ctrl-C
    assert not conn.poll_interrupt()


def test_connection_oversized_packet_is_discarded_as_it_streams():
    conn, peer = _pair()
    peer.setblocking(False)
    conn.ack_mode = False
    peer.sendall(b"$" + b"A" * (MAX_INCOMING_PACKET + 1000) + b"#00" + framed("qC"))
    assert conn.read_packet() is packets.OVERSIZED
    assert conn.read_packet() == b"qC"
    assert len(conn._body) <= MAX_INCOMING_PACKET


# --- a live server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def timer_trace(tmp_path_factory):
    return record("timer", tmp_path_factory.mktemp("rsp") / "timer.rr")


@pytest.fixture(scope="module")
def server(timer_trace):
    with DebugServer(timer_trace) as srv:
        yield srv


def test_session_start_sequence(server):
    with RspClient(server.port) as gdb:
        gdb.send_raw(b"+")
        supported = gdb.request("qSupported:multiprocess+;swbreak+;hwbreak+;"
                                "qRelocInsn+;fork-events+;vContSupported+")
        features = supported.split(";")
        for feature in ("qXfer:features:read+", "swbreak+", "hwbreak+", "vContSupported+",
                        "QStartNoAckMode+", "ReverseStep+", "ReverseContinue+"):
            assert feature in features
        assert not any(f.startswith("multiprocess") for f in features)
        assert re.fullmatch(r"PacketSize=[0-9a-f]+", features[0])
        assert gdb.request("vMustReplyEmpty") == ""
        gdb.start_no_ack()
        assert gdb.request("Hg0") == "OK"
        xml = gdb.request("qXfer:features:read:target.xml:0,ffff")
        assert xml.startswith("l") and "riscv:rv64" in xml
        assert gdb.request("qTStatus") == ""
        assert gdb.request("?").startswith("T05thread:1;")
        assert gdb.request("qfThreadInfo") == "m1"
        assert gdb.request("qsThreadInfo") == "l"
        assert gdb.request("qAttached") == "1"
        assert gdb.request("qC") == "QC1"
        assert gdb.request("Hc-1") == "OK"
        assert gdb.request("T1") == "OK"
        assert gdb.request("qSomethingNew:1") == ""           # unknown: empty, never OK
        assert gdb.request("vCont?").startswith("vCont;")


def test_target_xml_in_pieces_with_escaping(server):
    with RspClient(server.port) as gdb:
        document, offset = b"", 0
        while True:
            reply = gdb.request(f"qXfer:features:read:target.xml:{offset:x},80")
            assert reply[0] in "ml"
            piece = packets.decode_body(reply[1:].encode("latin-1"))
            document += piece
            offset += len(piece)
            if reply[0] == "l":
                break
        assert document == target_xml()
        assert gdb.request("qXfer:features:read:other.xml:0,100").startswith("E")
        for name in ("org.gnu.gdb.riscv.cpu", "org.gnu.gdb.riscv.fpu", "org.gnu.gdb.riscv.virtual",
                     "org.gnu.gdb.riscv.csr", 'name="satp"', 'name="fcsr"', 'name="priv"'):
            assert name.encode() in document


def test_registers(server):
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        assert gdb.monitor("seek 0").startswith("now at instruction 0")
        regs = gdb.request("g")
        assert len(regs) == 33 * 16
        pc = int.from_bytes(bytes.fromhex(regs[32 * 16:]), "little")
        assert pc == KERNEL_LOAD_ADDR
        assert gdb.request("p20") == regs[32 * 16:]                # pc = 32 = 0x20
        assert gdb.request(f"p{PRIV_REGNUM:x}") == (1).to_bytes(8, "little").hex()   # S-mode
        assert gdb.request(f"p{FIRST_CSR_REGNUM + CSR_SATP:x}") == "00" * 8
        assert len(gdb.request(f"p{FIRST_CSR_REGNUM + CSR_SSTATUS:x}")) == 16
        assert len(gdb.request("p43")) == 8                      # fflags: 32 bits
        assert gdb.request("p21") != ""                          # f0
        assert gdb.request("p1000").startswith("E")


def _register(gdb: RspClient, regnum: int) -> int:
    return int.from_bytes(bytes.fromhex(gdb.request(f"p{regnum:x}")), "little")


def test_machine_csrs_and_time(server):
    """The CSRs described beyond the S-mode ones are read, not void (G20)."""
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        gdb.monitor("seek 500")
        sstatus = _register(gdb, FIRST_CSR_REGNUM + CSR_SSTATUS)
        mstatus = _register(gdb, FIRST_CSR_REGNUM + CSR_MSTATUS)
        assert mstatus & sstatus == sstatus and mstatus != 0        # sstatus is a view of it
        # The virtual clock: what rdtime returns at this instruction (no wfi before it).
        assert _register(gdb, FIRST_CSR_REGNUM + CSR_TIME) == 500 // VIRTUAL_INSNS_PER_TICK
        gdb.monitor("seek 900")
        assert _register(gdb, FIRST_CSR_REGNUM + CSR_TIME) == 900 // VIRTUAL_INSNS_PER_TICK


def test_target_xml_gives_lldb_roles_and_dwarf_numbers():
    """lldb finds pc, sp, fp, ra and arguments by generic= and maps DWARF by dwarf_regnum=
    (G18); gdb ignores both."""
    regs = {reg.get("name"): reg for reg in ElementTree.fromstring(target_xml()).iter("reg")}
    assert {name: regs[name].get("generic") for name in ("pc", "sp", "fp", "ra", "a0", "a7")} \
        == {"pc": "pc", "sp": "sp", "fp": "fp", "ra": "ra", "a0": "arg1", "a7": "arg8"}
    assert [regs[name].get("dwarf_regnum") for name in ("zero", "t0", "t6", "ft0", "ft11")] \
        == ["0", "5", "31", "32", "63"]
    assert regs["sstatus"].get("dwarf_regnum") == str(4096 + CSR_SSTATUS)
    assert "dwarf_regnum" not in regs["pc"].attrib and "dwarf_regnum" not in regs["priv"].attrib
    for absent in ("cycle", "instret", "stimecmp"):       # nothing shown as void (G20)
        assert absent not in regs
    with_sstc = {reg.get("name"): reg for reg in
                 ElementTree.fromstring(target_xml(sstc=True)).iter("reg")}
    assert with_sstc["stimecmp"].get("regnum") == str(FIRST_CSR_REGNUM + CSR_STIMECMP)
    assert with_sstc["stimecmp"].get("dwarf_regnum") == str(4096 + CSR_STIMECMP)
    assert set(with_sstc) - set(regs) == {"stimecmp"}


def test_thread_ids_are_hex_numbers_and_lldb_queries(server):
    """lldb writes thread 1 as 0001 (G4); it asks where watchpoints stop (G19)."""
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        gdb.monitor("seek 0")
        for packet in ("Hg0001", "Hc-1", "Hg0", "T0001"):
            assert gdb.request(packet) == "OK", packet
        assert gdb.request("Hg2") == "E01"
        assert gdb.request("Hgzz") == "E01"
        assert gdb.request("vCont;s:0001") == "T05thread:1;"
        assert icount_of(gdb.monitor("icount")) == 1
        assert gdb.request(f"Z0,{KERNEL_LOAD_ADDR + 8:x},4") == "OK"
        assert gdb.request("vCont;s:2;c:0001") == "T05thread:1;"     # the action for us: c
        assert icount_of(gdb.monitor("icount")) == 2
        assert gdb.request(f"z0,{KERNEL_LOAD_ADDR + 8:x},4") == "OK"
        assert gdb.request("vCont;s:2") == "E01"
        assert "watchpoint_exceptions_received:before;" in gdb.request("qHostInfo")
        assert re.fullmatch(r"num:\d+;", gdb.request("qWatchpointSupportInfo:"))


def test_memory_reads(server):
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        gdb.monitor("seek 0")
        code = bytes.fromhex(gdb.request(f"m{KERNEL_LOAD_ADDR:x},8"))
        assert code[:4] == bytes.fromhex("73104010")              # csrw sie, zero
        assert gdb.request("m0,4") == "E14"                       # nothing there
        assert gdb.request("m10000000,4") == "E14"                # the UART: never read
        assert gdb.request("mzz,4") == "E01"


def test_writes_are_refused_with_a_reason(server):
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        for packet in ("P1=0100000000000000", "G" + "00" * 33 * 8,
                       f"M{KERNEL_LOAD_ADDR:x},1:00", f"X{KERNEL_LOAD_ADDR:x},1:\x00"):
            reply = gdb.request(packet)
            assert reply.startswith("E.") and "read-only" in reply, (packet, reply)
        assert gdb.request(f"X{KERNEL_LOAD_ADDR:x},0:") == "OK"        # gdb's probe for X
        # gdb shows no reason for a failed memory write: the next monitor command or
        # resume tells it (G17), once.
        note = (f"rrvm: the debugger's request to write memory at {KERNEL_LOAD_ADDR:#x} "
                f"was refused: {READ_ONLY_REASON}\n")
        assert gdb.monitor("seek 0") == note * 2 + "now at instruction 0, pc 0x80200000\n" \
            "(gdb still shows the old state: 'maint flush register-cache' refreshes it)\n"
        assert gdb.request(f"M{KERNEL_LOAD_ADDR:x},1:00").startswith("E.")
        gdb.send("s")
        notes = []
        while (reply := gdb.read_packet()).startswith("O"):
            notes.append(bytes.fromhex(reply[1:]).decode())
        assert reply == "T05thread:1;" and notes == [note]
        assert gdb.monitor("icount") == "icount 1\n"
    assert "refused" in server.stderr and "read-only" in server.stderr


def test_stop_points_are_idempotent_sets(server):
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        gdb.monitor("seek 0")
        target = KERNEL_LOAD_ADDR + 8
        for _ in range(2):
            assert gdb.request(f"Z0,{target:x},4") == "OK"
        assert gdb.request(f"Z1,{target:x},4") == "OK"
        assert gdb.request(f"Z9,{target:x},4") == ""             # unknown type
        assert gdb.request("vCont;c") == "T05thread:1;"           # gdb did not list swbreak+
        assert icount_of(gdb.monitor("icount")) == 2
        assert gdb.request(f"z0,{target:x},4") == "OK"
        assert gdb.request(f"z0,{target:x},4") == "OK"             # removing twice is harmless
        assert gdb.request(f"z1,{target:x},4") == "OK"
        assert gdb.request("bc").endswith("replaylog:begin;")
        assert gdb.request("bs") == "T05thread:1;replaylog:begin;"
        assert icount_of(gdb.monitor("icount")) == 0


def test_breakpoint_at_the_pc_forward_and_backward(server):
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        gdb.request("qSupported:swbreak+;hwbreak+")
        gdb.monitor("seek 0")
        assert gdb.request(f"Z0,{KERNEL_LOAD_ADDR:x},4") == "OK"
        # Forward: the instruction about to execute counts, as on hardware.
        assert gdb.request("c") == "T05thread:1;swbreak:;"
        assert icount_of(gdb.monitor("icount")) == 0
        assert gdb.request("s") == "T05thread:1;"
        assert gdb.request("s") == "T05thread:1;"
        assert gdb.request(f"Z1,{KERNEL_LOAD_ADDR + 8:x},4") == "OK"
        # Backward: never the starting state, even with a breakpoint at its pc.
        assert gdb.request("bc") == "T05thread:1;swbreak:;"
        assert icount_of(gdb.monitor("icount")) == 0
        assert gdb.request(f"z0,{KERNEL_LOAD_ADDR:x},4") == "OK"
        assert gdb.request("vCont;c") == "T05thread:1;hwbreak:;"
        assert icount_of(gdb.monitor("icount")) == 2
        assert gdb.request(f"z1,{KERNEL_LOAD_ADDR + 8:x},4") == "OK"
        assert gdb.request("") == ""                        # an empty packet is not a resume
        assert icount_of(gdb.monitor("icount")) == 2


def test_watchpoint_stops_before_the_store_forward_and_after_it_backward(server):
    """gdb steps over a RISC-V watchpoint stop itself and compares values (docs/gdb-protocol.md,
    G12): forward the stop is at the store, not yet executed; backward just after it."""
    store_pc, watched = 0x80200024, 0x80201000      # the boot code zeroing .bss
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        gdb.monitor("seek 0")
        assert gdb.request(f"Z2,{watched:x},8") == "OK"
        assert gdb.request("vCont;c") == f"T05thread:1;watch:{watched:x};"
        store = icount_of(gdb.monitor("icount"))
        assert int.from_bytes(bytes.fromhex(gdb.request("p20")), "little") == store_pc
        assert "no write" in gdb.monitor(f"last-write {watched:#x} 8")   # not executed yet
        gdb.monitor("seek 9000")
        assert gdb.request("bc") == f"T05thread:1;watch:{watched:x};"
        assert icount_of(gdb.monitor("icount")) == store + 1
        assert gdb.request(f"z2,{watched:x},8") == "OK"      # as gdb does, then one step back
        assert gdb.request("bs") == "T05thread:1;"
        assert int.from_bytes(bytes.fromhex(gdb.request("p20")), "little") == store_pc


def test_bad_checksum_ack_mode_and_no_ack_mode(server):
    with RspClient(server.port) as gdb:
        gdb.send_raw(b"$qC#00")
        assert gdb.read_ack() == b"-"
        assert gdb.request("qC") == "QC1"
        gdb.start_no_ack()
        gdb.send_raw(b"$qC#00")                                   # ignored, no reply
        gdb.send_raw(b"+-+")                                      # stray acks: ignored
        assert gdb.request("qAttached") == "1"
        assert gdb.buffer == bytearray() and gdb.acks == []      # no ack, no reply to the bad one


def test_oversized_packet_refused_then_served(server):
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        reply = gdb.request("m" + "0" * (MAX_INCOMING_PACKET + 10))
        assert reply.startswith("E.")
        assert gdb.request("qC") == "QC1"


def test_run_length_encoded_request(server):
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        gdb.monitor("seek 0")
        # m80200000,4 with "0000" written as "0* " (run-length encoded).
        assert gdb.request(b"m8020* 0,4") == "73104010"


def test_monitor_commands(server):
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        assert "now at instruction 500" in gdb.monitor("seek 500")
        assert gdb.monitor("icount") == "icount 500\n"
        assert "checkpoint at instruction 500" in gdb.monitor("checkpoint")
        assert "500" in gdb.monitor("checkpoints")
        info = gdb.monitor("info")
        assert "timer.elf" in info and "complete" in info and "instruction 500" in info
        events = gdb.monitor("events 3")
        assert "now: instruction 500" in events
        help_text = gdb.monitor("help")
        for name in ("icount", "seek", "events", "info", "last-write", "checkpoints",
                     "checkpoint", "help"):
            assert name in help_text
        assert "unknown monitor command" in gdb.monitor("frobnicate")
        assert gdb.monitor("seek lots") == \
            "rrvm: seek: 'lots': not a valid instruction count (examples: 1000, 0x3e8)\n"
        # The boot code zeroes .bss: the last write to the boot stack's bottom is in that loop.
        gdb.monitor("seek 9000")
        last = gdb.monitor("last-write 0x80201000 8")
        assert re.search(r"instruction \d+, pc 0x80200024 <_start\+0x24>: sd zero, 0\(t0\)", last), last
        assert icount_of(gdb.monitor("icount")) == 9000           # the position is kept
        assert gdb.request("qRcmd,zz") == "E01"


def test_no_checkpoint_at_the_end_of_history(server):
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        assert gdb.request("vCont;c").endswith("replaylog:end;")
        end = icount_of(gdb.monitor("icount"))
        assert gdb.monitor("checkpoint") == \
            "rrvm: checkpoint: not possible at the end of history (step back first)\n"
        assert gdb.request("bs") == "T05thread:1;"
        assert f"checkpoint at instruction {end - 1}" in gdb.monitor("checkpoint")


def test_second_client_is_refused_and_first_keeps_working(server):
    with RspClient(server.port) as first:
        first.start_no_ack()
        assert first.request("qC") == "QC1"
        with RspClient(server.port) as second:
            second.send("qSupported:swbreak+")
            assert second.read_ack() == b"+"
            reply = second.read_packet()
            assert reply.startswith("E.") and "already attached" in reply
            with pytest.raises((ConnectionError, OSError)):
                second.read_packet()
        assert first.request("qC") == "QC1"
        assert first.request("qAttached") == "1"


def test_disconnect_mid_packet_then_next_client(server):
    client = RspClient(server.port)
    client.send_raw(b"$qSupported:swbre")
    client.close()
    with RspClient(server.port) as gdb:
        assert gdb.request("qC") == "QC1"


def _valid_packets(data: bytes) -> list[bytes]:
    found = []
    for match in re.finditer(rb"\$([^$#]*)#([0-9a-fA-F]{2})", data):
        if int(match.group(2), 16) == sum(match.group(1)) & 0xFF:
            found.append(packets.decode_body(match.group(1)))
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=st.binary(max_size=400), no_ack=st.booleans())
def test_random_bytes_never_stop_the_server(server, noise, no_ack):
    # A valid kill or detach in the noise would end the server, as it should.
    assume(not any(p[:1] in (b"k", b"D") or p.startswith(b"vKill") for p in _valid_packets(noise)))
    with RspClient(server.port) as gdb:
        if no_ack:
            gdb.start_no_ack()
        gdb.send_raw(noise)
        gdb.send_raw(framed("qC"))
        deadline = time.monotonic() + 20
        while gdb.read_packet() != "QC1":
            assert time.monotonic() < deadline


def test_command_line_errors_are_one_line(timer_trace, tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    cases = {(str(timer_trace), "--gdb", str(port)): f"port {port} on 127.0.0.1 is already in use",
             (str(timer_trace), "--gdb", "70000"): "a TCP port is 0 to 65535",
             (str(tmp_path / "missing.rr"), "--gdb", "0"): "cannot open trace"}
    try:
        for args, message in cases.items():
            done = subprocess.run([*RRVM, "debug", *args], cwd=REPO, capture_output=True,
                                  stdin=subprocess.DEVNULL, timeout=60)
            lines = done.stderr.decode().splitlines()
            assert done.returncode == 1 and len(lines) == 1, (args, lines)
            assert lines[0].startswith("rrvm: error: ") and message in lines[0], lines
    finally:
        busy.close()
