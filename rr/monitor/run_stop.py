"""Why one run of the hart returned: the record both counting engines give back."""

from __future__ import annotations

from dataclasses import dataclass

from unicorn import UcError


@dataclass(frozen=True)
class RunStop:
    """Why one ``Cpu.run`` returned."""

    executed: int            # instructions completed in this run
    count_reached: bool      # the run used up its instruction budget
    error: UcError | None    # unicorn's error, if it stopped with one
