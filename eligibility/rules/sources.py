"""The source documents the criteria rest on, cited by title (never by file name)."""

GUIDELINE = "CAR-T Cell Therapy: Overview and Clinical Applications"
BALTALEUCEL = "Baltaleucel-T drug overview"
LEUKEMIA_PAGE = "CAR-T therapy for leukemia (patient page)"
PATIENT_GUIDE = "CAR-T therapy patient guide (blog)"
BLINATUMOMAB = "Blinatumomab overview"


def cite(*passages: tuple[str, str]) -> str:
    """Join ``(title, section)`` pairs into the ``source`` text of a checklist item."""
    return "; ".join(f"{title} - {section}" for title, section in passages)
