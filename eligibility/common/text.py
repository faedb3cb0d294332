"""Free text a user writes (justifications, notes, reasons, change notes): one limit, one message."""

from __future__ import annotations

#: The longest free text a user writes: justifications, notes, reasons, change notes (characters).
FREE_TEXT_MAX = 2000


def free_text_too_long(text: str) -> str | None:
    """The message for free text over :data:`FREE_TEXT_MAX` characters, or ``None``."""
    if len(text) > FREE_TEXT_MAX:
        return f"At most {FREE_TEXT_MAX:,} characters (this has {len(text):,})."
    return None
