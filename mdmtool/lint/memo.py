"""A bounded memo that keeps what is used often: fleets repeat a few files and setups
many times among many one-off ones, so least-recently-used entries go first and memory
stays flat however many hosts are linted."""

from __future__ import annotations

from typing import Any, Hashable


class Memo(dict):
    """``dict`` with a size cap; :meth:`hit` marks an entry used, :meth:`put` evicts the
    least recently used one when full."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap = cap

    def hit(self, key: Hashable) -> Any:
        value = self.pop(key, None)
        if value is not None:
            self[key] = value
        return value

    def put(self, key: Hashable, value: Any) -> None:
        if key not in self and len(self) >= self.cap:
            del self[next(iter(self))]
        self[key] = value
