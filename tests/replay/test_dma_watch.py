"""Device DMA into watched RAM is a write of that device (docs/watchpoints.md, "Device DMA").

guests/virtio/virtio.c reads sector 0 of its disk into ``sector_buf``, then
sector 1 (zeros on the committed disk: no boot counted yet), writes the
counter back from ``write_buf``, clears ``sector_buf`` with memset and reads
sector 1 again (now "RRBC" and count 1); a last read past the end of the
disk writes only the status byte. Each request sets ``req_status = 0xff``
before the device writes its status (0, then 1 for the read past the end).
Then virtio-rng fills ``rng_buf[0]`` and ``rng_buf[1]`` with the recorded
entropy. The device writes happen inside the guest's QueueNotify store
(``sw`` to the slot's offset 0x50), so that is the instruction they are
reported at. A debugger's watchpoint does not stop on them, as on hardware.
"""

from __future__ import annotations

import random

import pytest

from rr.monitor.constants import VIRTIO_BASE, VIRTIO_COUNT, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_STRIDE
from rr.monitor.insn_decode import effective_address
from rr.replay import queries
from rr.replay.hits import HitCollector, WatchKind, WatchSpace, Watchpoint
from rr.replay.timeline import Timeline

from conftest import both_engines, run_rrvm
from replay_helpers import BIN, assert_same_states_with, elf_symbol, open_session, virtio_recording

pytestmark = both_engines

GUEST = BIN / "virtio.elf"
BLK_NOTIFY = VIRTIO_BASE + (VIRTIO_COUNT - 1) * VIRTIO_STRIDE + VIRTIO_MMIO_QUEUE_NOTIFY
RNG_NOTIFY = BLK_NOTIFY - VIRTIO_STRIDE          # the next slot down
ZERO = bytes(8)
SECTOR0 = b"rrvm vir"                            # the disk's first bytes (guests/Makefile)
COUNTED = b"RRBC" + (1).to_bytes(4, "little")    # BOOT_MAGIC, then boots + 1


@pytest.fixture(scope="module")
def virtio_trace(tmp_path_factory):
    return virtio_recording(tmp_path_factory)


@pytest.fixture
def timeline(virtio_trace):
    return Timeline(open_session(virtio_trace.trace), spacing=3_000)


def symbol(name: str) -> int:
    return elf_symbol(GUEST, name)


def stores_to(timeline: Timeline, icount: int) -> int | None:
    """The data address of the instruction executed at ``icount``."""
    timeline.seek(icount)
    cpu = timeline.board.cpu
    insn, length = timeline.board.memory.fetch_trapping_instruction(cpu.pc, cpu.priv)
    return effective_address(insn, length, cpu.x)


@pytest.mark.parametrize("space", [WatchSpace.VIRTUAL, WatchSpace.PHYSICAL])
def test_disk_reads_into_a_watched_buffer_are_virtio_blk_writes(timeline, space):
    writes = queries.writes(timeline, symbol("sector_buf"), 8, space=space)
    dma = [w for w in writes if w.device is not None]
    assert [(w.writer, w.old, w.new) for w in dma] == [
        ("virtio-blk DMA", ZERO, SECTOR0),       # sector 0
        ("virtio-blk DMA", SECTOR0, ZERO),       # sector 1, no boot counted yet
        ("virtio-blk DMA", ZERO, COUNTED),       # sector 1 read back
    ]
    assert all(stores_to(timeline, w.icount) == BLK_NOTIFY for w in dma)
    # the guest's own stores stay the guest's: .bss cleared, then memset byte by byte
    own = [w for w in writes if w.device is None]
    assert len(own) == 1 + 8 and own[0].icount < dma[0].icount
    assert all(dma[1].icount < w.icount < dma[2].icount for w in own[1:])


def test_status_bytes_alternate_between_the_driver_and_the_device(timeline):
    writes = queries.writes(timeline, symbol("req_status"), 1)
    requests = [(w.writer, w.old, w.new) for w in writes[1:]]      # after .bss is cleared
    assert requests == [("", b"\0", b"\xff"), ("virtio-blk DMA", b"\xff", b"\0")] * 4 + \
        [("", b"\0", b"\xff"), ("virtio-blk DMA", b"\xff", b"\1")]          # past the end: IOERR


def test_the_buffers_of_one_request_make_one_write(timeline):
    """A range from sector_buf to req_status takes a disk read's data and its status byte
    in one QueueNotify: one write, from before the data to after the status."""
    start = symbol("sector_buf")
    length = symbol("req_status") + 1 - start
    writes = queries.writes(timeline, start, length)
    blk = [w for w in writes if w.device == "virtio-blk"]
    assert len(blk) == 5                               # three reads, the write, past the end
    first = blk[0]
    assert (first.old[:8], first.old[-1:]) == (ZERO, b"\xff")
    assert (first.new[:8], first.new[-1:]) == (SECTOR0, b"\0")
    assert all(stores_to(timeline, w.icount) == BLK_NOTIFY for w in blk)


def test_entropy_lands_at_the_recorded_event(timeline, virtio_trace):
    with virtio_trace.reader() as reader:
        entropy = list(reader.events("entropy"))
    writes = queries.writes(timeline, symbol("rng_buf"), 64)
    dma = [w for w in writes if w.device is not None]
    assert [w.writer for w in dma] == ["virtio-rng DMA"] * 2
    assert [w.icount for w in dma] == [event.icount for event in entropy]
    assert dma[0].new[:32] == entropy[0].data and dma[1].new[32:] == entropy[1].data
    assert all(stores_to(timeline, w.icount) == RNG_NOTIFY for w in dma)


def test_last_write_names_the_device(timeline, virtio_trace):
    timeline.seek(virtio_trace.final_icount)
    last = queries.last_write(timeline, symbol("sector_buf"), 8)
    assert last is not None and (last.writer, last.old, last.new) == ("virtio-blk DMA", ZERO,
                                                                       COUNTED)
    assert timeline.position == virtio_trace.final_icount


def test_watchpoints_do_not_stop_on_dma(timeline, virtio_trace):
    """As hardware and QEMU's gdbstub: continue and reverse-continue pass the disk reads."""
    watch = Watchpoint(symbol("sector_buf"), 8, WatchKind.WRITE)
    dma = [w.icount for w in queries.writes(timeline, watch.address, 8) if w.device]
    stops = []
    while (hit := timeline.run_forward(watchpoints=[watch])) is not None:
        stops.append(hit.icount)
    assert len(stops) == 1 + 8 and not set(stops) & set(dma)
    timeline.seek(virtio_trace.final_icount)
    assert timeline.run_backward(watchpoints=[watch]).icount == stops[-1]


def test_a_dma_watch_leaves_the_run_alone(virtio_trace):
    end = virtio_trace.final_icount
    with virtio_trace.reader() as reader:
        entropy = [event.icount for event in reader.events("entropy")]
    rng = random.Random("dma-watch")
    positions = sorted({*rng.sample(range(1, end), 20), *(n + 1 for n in entropy), end})
    watches = [Watchpoint(symbol(name), length)
               for name, length in (("sector_buf", 8), ("req_status", 1), ("rng_buf", 64))]
    _, collector = assert_same_states_with(
        virtio_trace.trace, positions, lambda board: HitCollector(board, (), watches, -1, dma=True))
    assert sum(1 for hit in collector.hits if hit.store.device) == 3 + 5 + 2


def test_the_repl_says_virtio_blk_dma(virtio_trace):
    proc = run_rrvm("repl", str(virtio_trace.trace), "--symbols", str(GUEST), "-c",
                    "when sector_buf 8; goto end; last-write sector_buf 8")
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out + proc.stderr.decode(errors="replace")
    assert "12 writes to sector_buf" in out, out
    assert len([line for line in out.splitlines() if "virtio-blk DMA" in line]) == 3 + 1, out
    assert "0x0 -> 0x143425252" in out.splitlines()[-1], out
