"""Chaos scheduling: quantum lengths and IPI delays drawn from a seeded generator.

With one fixed quantum the harts always switch at the same positions, and a
race whose window never straddles a switch never shows, however often the
guest is recorded. Chaos mode makes the k-th quantum's length a function of
(seed, k) alone: anywhere from one instruction to the board's quantum. The
seed is part of the board configuration a trace keeps, so a replay draws the
same lengths and switches where the recording did; different seeds give
different interleavings (``rrvm record --chaos --until-fail N`` tries N).

An IPI one hart sends another is delivered after a drawn delay too (0 to
the quantum, in instructions run by all harts), as a real interconnect takes
its time: the k-th IPI's delay is a function of (seed, k). Remote fences are
not delayed: the SBI returns only once they are done.
"""

from __future__ import annotations

from dataclasses import dataclass

_MASK = (1 << 64) - 1


def splitmix64(value: int) -> int:
    """One step of SplitMix64 (a small, well-mixed 64-bit hash; no state to carry)."""
    z = (value + 0x9E37_79B9_7F4A_7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & _MASK
    return z ^ (z >> 31)


@dataclass(frozen=True)
class ChaosSchedule:
    seed: int
    quantum: int            # the longest quantum drawn

    def length(self, k: int) -> int:
        """Instructions in quantum number ``k`` (1 to ``quantum``)."""
        return 1 + splitmix64(splitmix64(self.seed) ^ k) % self.quantum

    def ipi_delay(self, k: int) -> int:
        """Instructions between the k-th IPI's send and its delivery (0 to ``quantum``)."""
        return splitmix64(splitmix64(self.seed ^ _IPI_STREAM) ^ k) % (self.quantum + 1)


_IPI_STREAM = 0x1B1_D31A7                  # keeps IPI delays apart from quantum lengths
