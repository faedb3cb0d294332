"""The words screens use for stored codes: stages, results, statuses and units. One place.

The engine owns the words its reasons quote (stage, status and result labels, the labels of the
case format's keys, the words for its choices, units in clinical typography): they are taken from
it here, not written again. What only screens say (where a stage stands in a sentence, what a
sign-off approves) is written here; ``display.py`` writes a recorded value with these words.
Checklists stored before the engine wrote unit symbols keep their reasons as written (``x10^9/L``):
they are records, quoted as they were written.
"""

from __future__ import annotations

from ..rules import OVERALL_LABELS, PHASE_LABELS, SCREENING, STATUS_LABELS, UNITS, unit_symbol

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

#: A stored unit as screens write it (``"10^9/L"`` -> ``"×10⁹/L"``), other units as they are: the
#: engine's symbols, ``UNITS``, which its reasons write too.
unit_text = unit_symbol
