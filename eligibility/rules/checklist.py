"""The checklist of one evaluation (criteria.md section 4): typed items, and their JSON.

The JSON is the format's, key for key and byte for byte (``docs/criteria.md``, ``evaluate
--format json``, the stored ``Evaluation.checklist``); :func:`checklist_items` reads a stored one
back as typed items.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """What one rule found for one case. The fields are the item's JSON keys, in their order."""

    code: str
    phase: str
    title: str
    status: str
    reason: str
    source: str
    #: The case values the rule read, by JSON path (shared between checklists: never changed).
    inputs: Mapping[str, Any]
    #: The values the rule computed (criteria-v2 section 6.3): only rules 31, 32, 36 and 37 give
    #: them; ``None`` for every other rule, whose JSON then has no ``derived`` key at all.
    derived: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The item as the JSON object of section 4 (with ``derived`` only where a rule gives it)."""
        item = {"code": self.code, "phase": self.phase, "title": self.title, "status": self.status,
                "reason": self.reason, "source": self.source, "inputs": self.inputs}
        if self.derived is not None:
            item["derived"] = self.derived
        return item

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChecklistItem:
        """An item from its JSON object (``as_dict()`` read back)."""
        return cls(code=data["code"], phase=data["phase"], title=data["title"], status=data["status"],
                   reason=data["reason"], source=data["source"], inputs=data["inputs"],
                   derived=data.get("derived"))


def checklist_items(checklist: Mapping[str, Any]) -> list[ChecklistItem]:
    """The typed items of a checklist stored as JSON (``Checklist.as_dict()``, e.g. the
    ``checklist`` of an evaluation), in their order."""
    return [ChecklistItem.from_dict(item) for item in checklist["items"]]


def dumps(value: Any) -> bytes:
    """Compact JSON: orjson, or the standard library for what orjson refuses (an integer beyond
    64 bits is valid input where the format sets no upper bound, e.g. doses on site)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class Checklist:
    """The result of one evaluation: criteria.md section 4, plus the rule set it came from.

    ``items`` (:class:`ChecklistItem`) are shared between checklists with equal inputs (see
    :class:`Engine`): read them, never change their ``inputs``.
    """

    __slots__ = ("case_id", "stage", "ruleset_name", "ruleset_version", "overall", "counts", "items",
                 "_ruleset_json", "_encoded_items")

    def __init__(self, *, case_id, stage, ruleset_name, ruleset_version, overall, counts, items,
                 ruleset_json=None, encoded_items=None):
        self.case_id = case_id
        self.stage = stage
        self.ruleset_name = ruleset_name
        self.ruleset_version = ruleset_version
        self.overall = overall
        self.counts = counts
        self.items = items
        self._ruleset_json = ruleset_json
        self._encoded_items = encoded_items

    def as_dict(self) -> dict[str, Any]:
        """The checklist output object of section 4, key for key."""
        return {
            "case_id": self.case_id,
            "stage": self.stage,
            "ruleset": {"name": self.ruleset_name, "version": self.ruleset_version},
            "overall": self.overall,
            "counts": self.counts,
            "items": [item.as_dict() for item in self.items],
        }

    def as_json(self) -> bytes:
        """``as_dict()`` encoded as compact JSON, byte for byte what ``orjson.dumps`` gives.

        The items were encoded once when their result was first computed; only the envelope is
        encoded here (the batch path's largest saving).
        """
        if self._encoded_items is None:
            return dumps(self.as_dict())
        return b"".join(self.json_parts())

    def json_parts(self) -> list[bytes]:
        """``as_json()`` in pieces, for a writer that joins many checklists at once (one copy)."""
        items = self._encoded_items
        if items is None:
            return [dumps(self.as_dict())]
        # Each item was encoded with a leading comma; the first one goes without it.
        parts = [
            b'{"case_id":', dumps(self.case_id),
            b',"stage":"', self.stage.encode(),
            b'","ruleset":', self._ruleset_json,
            b',"overall":"', self.overall.encode(),
            b'","counts":', orjson.dumps(self.counts),
            b',"items":[',
        ]
        if items:  # a draft may enable no rule: its checklist has no item
            parts.append(items[0][1:])
            parts += items[1:]
        parts.append(b"]}")
        return parts
