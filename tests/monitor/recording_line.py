"""Test doubles shared by the device tests."""

from __future__ import annotations


class Line:
    """An interrupt line that records every level driven on it."""

    def __init__(self) -> None:
        self.history: list[bool] = []

    def set_level(self, level: bool) -> None:
        self.history.append(level)

    @property
    def level(self) -> bool:
        return bool(self.history) and self.history[-1]
