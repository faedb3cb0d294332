"""What screens show of stored values: one way to write a recorded value in words."""

from __future__ import annotations

from typing import Any

from ..rules import plain
from .people import display_name
from .vocabulary import unit_text

#: Icons carry the status beside its word (never colour alone).
STATUS_ICONS = {"pass": "✓", "flag": "⚑", "missing": "?", "defer": "‖", "exclude": "✕", "pending": "…"}


def value_text(value: Any) -> str:
    if isinstance(value, dict):
        return f"{plain(value.get('value'))} {unit_text(value.get('unit'))}".strip()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "not recorded"
    if isinstance(value, float | int):
        return plain(value)
    return str(value).replace("_", " ")


def history_who(record) -> str:
    """Who made a django-simple-history record ("system" when no user was recorded)."""
    return display_name(record.history_user)
