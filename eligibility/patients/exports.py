"""How an assessment's recorded values read in the audit export: the case path by its label, the
value in words with its unit symbol, as every screen says them (``common.display``)."""

from __future__ import annotations

from typing import Any

from ..common.display import input_label, input_text
from ..common.vocabulary import STAGE_LABELS
from ..rulesets.selectors import product_names
from .models import Assessment

DATA_PREFIX = "data."
#: An episode's coded fields: their label in the export and their choices.
EPISODE_CHOICES = {"kind": ("Episode kind", Assessment.Kind),
                   "close_reason": ("Why the episode was closed", Assessment.CloseReason)}


def assessment_field_words(field: str, value: Any) -> tuple[str, str] | None:
    """``(label, text)`` of a changed field of an assessment (``data.ecog`` -> "ECOG performance
    status", ``4``; ``stage`` -> "Stage" and the stage's label); None for the other fields."""
    if field == "stage":
        return "Stage", STAGE_LABELS.get(value, "") if value else ""
    if field in EPISODE_CHOICES:  # treatment episodes: their kind and why one was closed, in words
        label, choices = EPISODE_CHOICES[field]
        return label, str(choices(value).label) if value else ""
    if not field.startswith(DATA_PREFIX):
        return None
    path = field.removeprefix(DATA_PREFIX)
    if value is None:
        return input_label(path), ""
    # A product by the name its latest version gives it (only product changes pay for the query).
    return input_label(path), input_text(path, value, product_names() if path == "product" else None)
