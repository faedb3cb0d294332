"""Free text a user writes (justifications, notes, reasons, change notes): one limit, one message."""

from __future__ import annotations

from django import forms

#: The longest free text a user writes: justifications, notes, reasons, change notes (characters).
FREE_TEXT_MAX = 2000


def free_text_too_long(text: str) -> str | None:
    """The message for free text over :data:`FREE_TEXT_MAX` characters, or ``None``."""
    if len(text) > FREE_TEXT_MAX:
        return f"At most {FREE_TEXT_MAX:,} characters (this has {len(text):,})."
    return None


def free_text_field(label: str, *, required: bool = True, rows: int = 2, help_text: str = "") -> forms.CharField:
    """A form field for free text, its limit enforced beside the field and stated in its help."""
    limit = f"At most {FREE_TEXT_MAX:,} characters."
    return forms.CharField(label=label, required=required, max_length=FREE_TEXT_MAX,
                           widget=forms.Textarea(attrs={"rows": rows}),
                           help_text=f"{help_text} {limit}".strip())
