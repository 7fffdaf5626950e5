"""Seeking in a trace of the virtio guest: checkpoints carry the disk overlay and DMA'd RAM.

The guest writes sector 1 of its disk and has RAM filled by virtio-blk reads
and virtio-rng requests, all behind unicorn's back. A Timeline with small
checkpoint spacing visits positions in random order (back across the disk
write, too) and must find there the state a straight replay reaches:
registers, devices (the disk overlay included) and all of RAM.
"""

from __future__ import annotations

import random

import pytest

from rr.monitor.constants import VIRTIO_COUNT
from rr.monitor.state_digest import state_digest
from rr.replay.timeline import Timeline

from replay_helpers import (BIN, differences, open_session, snapshot, straight_snapshots,
                            virtio_recording)

DISK = BIN / "virtio-disk.img"
SPACING = 3_000
SECTOR = 512


@pytest.fixture(scope="module")
def virtio_trace(tmp_path_factory):
    return virtio_recording(tmp_path_factory)


def test_random_seeks_match_straight_replay(virtio_trace):
    end = virtio_trace.final_icount
    with virtio_trace.reader() as reader:
        entropy = [event.icount for event in reader.events("entropy")]
    positions = sorted({*range(1, end, 500), end, *(n + d for n in entropy for d in (-1, 0, 1))})
    expected = straight_snapshots(virtio_trace.trace, positions)
    order = list(positions)
    random.Random("virtio-seek").shuffle(order)

    timeline = Timeline(open_session(virtio_trace.trace), spacing=SPACING)
    overlays = set()
    for number, position in enumerate(order):
        assert timeline.seek(position) == position
        actual = snapshot(timeline.board)
        assert actual == expected[position], (
            f"seek #{number} to {position}: " + differences(actual, expected[position]))
        overlays.add(bool(timeline.board.virtio[VIRTIO_COUNT - 1].disk.overlay))
    assert overlays == {False, True}, "the positions should straddle the disk write"
    assert len(timeline.checkpoints) >= end // SPACING

    with virtio_trace.reader() as reader:
        footer = reader.footer
    timeline.seek(end)
    assert state_digest(timeline.board) == footer.state_hash
    timeline.seek(1)
    disk = timeline.board.virtio[VIRTIO_COUNT - 1].disk
    assert disk.overlay == {} and disk.read_sectors(1, 1) == DISK.read_bytes()[SECTOR:2 * SECTOR]
