"""What a process keeps of what it made, by key, with a bound on how much.

The hot pages keep what they made from what they read (rows by their values, a checklist's items by
its public key, a form's HTML by an item's code: ``compiled.made_rows``, ``review.presenters``,
``review.checklist_rows``, ``common.rendering``). Each keeps at most ``size`` entries: past it all
are forgotten at once (no order to keep up on every read), which no reader can see half done.
"""

from __future__ import annotations

from collections.abc import Hashable


class Kept:
    """At most ``size`` objects by key (all forgotten at once past it)."""

    def __init__(self, size: int):
        self.size, self._kept = size, {}

    def get(self, key: Hashable) -> object | None:
        return self._kept.get(key)

    def put(self, key: Hashable, obj: object) -> None:
        if len(self._kept) >= self.size:
            self._kept = {}
        self._kept[key] = obj

    def clear(self) -> None:
        self._kept = {}

    def __len__(self) -> int:
        return len(self._kept)
