"""The words screens use for stored codes: stages, results, statuses and units. One place.

The engine owns the labels its reasons quote (stage, status and result labels, the words for the
case format's choices): they are taken from it here, not written again. What only screens say
(units in clinical typography, where a stage stands in a sentence, what a sign-off approves) is
written here. The engine's reasons and the checklist JSON keep their own plain-text spelling
(``x10^9/L``): they are records, quoted as they were written.
"""

from __future__ import annotations

from ..rules import OVERALL_LABELS, PHASE_LABELS, SCREENING, STATUS_LABELS

__all__ = ["NEXT_STEP", "OVERALL_LABELS", "STAGE_LABELS", "STAGE_WHERE", "STATUS_LABELS", "UNITS", "unit_text"]

#: A checklist's stage is named by the last phase it checks (the engine's phase labels).
STAGE_LABELS = PHASE_LABELS
#: Where a stage stands in a sentence: "deferred before leukapheresis", "closed at screening".
STAGE_WHERE = {stage: "at screening" if stage == SCREENING else label.lower() for stage, label in STAGE_LABELS.items()}
#: What a sign-off at each stage approves the patient to proceed to.
NEXT_STEP = {
    "screening": "leukapheresis",
    "pre_apheresis": "lymphodepletion",
    "pre_lymphodepletion": "lymphodepleting chemotherapy",
    "pre_infusion": "infusion",
}

#: Units as screens write them, by the code the case format and the thresholds store
#: (``10^9/L`` in a case, ``x10^9/L`` in a threshold: one spelling on screen).
UNITS = {
    "10^9/L": "×10⁹/L",
    "x10^9/L": "×10⁹/L",
    "cells/uL": "cells/µL",
    "C": "°C",
    "F": "°F",
}


def unit_text(code: str | None) -> str:
    """A stored unit as screens write it (``"10^9/L"`` -> ``"×10⁹/L"``); other units as they are."""
    if not code:
        return ""
    return UNITS.get(code, code)
