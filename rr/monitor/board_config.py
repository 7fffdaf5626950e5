"""What a board is made of: the configuration a run, a trace and a device tree share."""

from __future__ import annotations

from dataclasses import dataclass, field

from rr.monitor.constants import DEFAULT_RAM_SIZE


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
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "ram_size": self.ram_size, "bootargs": self.bootargs, "clock": self.clock,
            "initrd_start": self.initrd_start, "initrd_end": self.initrd_end,
            "stdout_path": self.stdout_path, "rng_seed": self.rng_seed,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "BoardConfig":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "extra"}
        return cls(**known)
