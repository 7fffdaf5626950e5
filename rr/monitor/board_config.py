"""What a board is made of: the configuration a run, a trace and a device tree share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rr.errors import RrError
from rr.monitor.constants import (DEFAULT_EPOCH_INSNS, DEFAULT_QUANTUM_INSNS, DEFAULT_RAM_SIZE,
                                  MAX_CHAOS_SEED, MAX_EPOCH_INSNS, MAX_HARTS, MAX_QUANTUM_INSNS, MIN_EPOCH_INSNS,
                                  MIN_QUANTUM_INSNS, UNRECORDED_EPOCH_INSNS)


class BoardConfigError(RrError):
    """A stored board configuration (a trace header's) that cannot describe a board."""


@dataclass
class DiskConfig:
    """The disk image behind virtio-blk, as the trace header records it."""

    path: str
    sha256: str                 # of the file before the run (hex)
    size: int                   # bytes
    writable: bool = False      # guest writes go through to the file (--disk-writable)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size,
                "writable": self.writable}

    @classmethod
    def from_dict(cls, data: Any) -> "DiskConfig":
        fields = {"path": str, "sha256": str, "size": int}
        if not isinstance(data, dict) or any(type(data.get(key)) is not kind
                                             for key, kind in fields.items()):
            raise BoardConfigError("board configuration: disk is not a map with a str path, "
                                   "a str sha256 and an int size")
        return cls(path=data["path"], sha256=data["sha256"], size=data["size"],
                   writable=data.get("writable") is True)


@dataclass
class BoardConfig:
    """The board's shape. Everything here is plain data so a trace header can store it."""

    ram_size: int = DEFAULT_RAM_SIZE
    bootargs: str = ""
    clock: str = "virtual"                  # "virtual" or "host"
    # Physical placement of the initrd, filled in by the loader.
    initrd_start: int | None = None
    initrd_end: int | None = None
    stdout_path: str = "/soc/serial@10000000"
    # 64 bytes placed in /chosen/rng-seed (None: no property).
    rng_seed: bytes | None = None
    # virtio-blk's image (filled in from the boot payload by settle_payload), and
    # whether a virtio-rng is present. Headers written before these existed
    # have neither, which is what those runs had.
    disk: DiskConfig | None = None
    virtio_rng: bool = False
    # Instructions per epoch: where asynchronous inputs may reach the guest
    # (run_loop.py). Headers written before it existed ran with
    # UNRECORDED_EPOCH_INSNS, whatever the default is now.
    epoch_insns: int = DEFAULT_EPOCH_INSNS
    # Harts (--smp) and the instructions each runs before the next takes its
    # turn (smp_run_loop.py). A one-hart board stores neither, so its header
    # is what it was before they existed; absent means one hart.
    harts: int = 1
    quantum_insns: int = DEFAULT_QUANTUM_INSNS
    # Chaos scheduling (chaos.py): quantum lengths drawn from this seed (None: fixed).
    chaos_seed: int | None = None
    # Sstc offered (--sstc): stimecmp emulated (stimecmp.py), "sstc" in riscv,isa.
    # Stored only when offered; absent means not offered.
    sstc: bool = False

    def to_dict(self) -> dict:
        plain = {
            "ram_size": self.ram_size, "bootargs": self.bootargs, "clock": self.clock,
            "initrd_start": self.initrd_start, "initrd_end": self.initrd_end,
            "stdout_path": self.stdout_path, "rng_seed": self.rng_seed,
            "disk": self.disk.to_dict() if self.disk is not None else None,
            "virtio_rng": self.virtio_rng, "epoch_insns": self.epoch_insns,
        }
        if self.harts > 1:
            plain.update(harts=self.harts, quantum_insns=self.quantum_insns)
        if self.chaos_seed is not None:
            plain["chaos_seed"] = self.chaos_seed
        if self.sstc:
            plain["sstc"] = True
        return plain

    @classmethod
    def from_dict(cls, data: dict) -> "BoardConfig":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if known.get("disk") is not None:
            known["disk"] = DiskConfig.from_dict(known["disk"])
        known["epoch_insns"] = check_epoch(known.get("epoch_insns", UNRECORDED_EPOCH_INSNS),
                                           "board configuration: epoch_insns")
        known["harts"] = check_harts(known.get("harts", 1), "board configuration: harts")
        known["quantum_insns"] = check_quantum(known.get("quantum_insns", DEFAULT_QUANTUM_INSNS),
                                               "board configuration: quantum_insns")
        seed = known.get("chaos_seed")
        if seed is not None and (type(seed) is not int or not 0 <= seed <= MAX_CHAOS_SEED):
            raise BoardConfigError(f"board configuration: chaos_seed {seed!r} is not a "
                                   "64-bit seed")
        if type(known.get("sstc", False)) is not bool:
            raise BoardConfigError(f"board configuration: sstc {known['sstc']!r} is not "
                                   "true or false")
        return cls(**known)


def check_epoch(value: Any, what: str) -> int:
    """An epoch size the run loop can use; anything else is one error line naming ``what``."""
    if type(value) is not int or not MIN_EPOCH_INSNS <= value <= MAX_EPOCH_INSNS:
        raise BoardConfigError(f"{what} {value!r} is not an instruction count from "
                               f"{MIN_EPOCH_INSNS:,} to {MAX_EPOCH_INSNS:,}")
    return value


def check_harts(value: Any, what: str) -> int:
    """A hart count the board can build (1 to MAX_HARTS), or one error line naming ``what``."""
    if type(value) is not int or not 1 <= value <= MAX_HARTS:
        raise BoardConfigError(f"{what} {value!r} is not a hart count from 1 to {MAX_HARTS}")
    return value


def check_quantum(value: Any, what: str) -> int:
    """A scheduling quantum the run loop can use, or one error line naming ``what``."""
    if type(value) is not int or not MIN_QUANTUM_INSNS <= value <= MAX_QUANTUM_INSNS:
        raise BoardConfigError(f"{what} {value!r} is not an instruction count from "
                               f"{MIN_QUANTUM_INSNS:,} to {MAX_QUANTUM_INSNS:,}")
    return value
