"""Treatment episodes (issue 14), reads: an episode's key dates and day numbers.

An episode is an :class:`~.models.Assessment` row. Its key dates are partly case keys the engine
reads (``leukapheresis_date``, ``product_received_on``, ``lymphodepletion_start_date``,
``infusion_date``, in ``data``) and partly episode fields it does not (``consent_on``,
``screening_on``); the ``*_done`` fields say a planned treatment date has happened.

Day numbers count from the infusion (day 0): the day before is day -1 ("day −1" on screens),
the day after day +1. They are shown wherever a date of the episode is shown once an infusion
date is recorded (planned or given).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from .models import Assessment


@dataclass(frozen=True)
class KeyDateSpec:
    key: str
    label: str
    #: The case key holding the date (engine-read), or the episode field.
    case_key: str | None
    field: str | None
    #: The episode field that says it has happened, for a date that may be planned.
    done_field: str | None


KEY_DATES: tuple[KeyDateSpec, ...] = (
    KeyDateSpec("consent", "Consent signed", None, "consent_on", None),
    KeyDateSpec("screening", "Screening visit", None, "screening_on", None),
    KeyDateSpec("leukapheresis", "Leukapheresis (collection)", "leukapheresis_date", None, "leukapheresis_done"),
    KeyDateSpec("product_received", "Product received on site", "product_received_on", None, None),
    KeyDateSpec("lymphodepletion", "Lymphodepletion starts", "lymphodepletion_start_date", None,
                "lymphodepletion_done"),
    KeyDateSpec("infusion", "Infusion (day 0)", "infusion_date", None, "infusion_done"),
)
KEY_DATE_SPECS = {spec.key: spec for spec in KEY_DATES}


@dataclass(frozen=True)
class KeyDate:
    key: str
    label: str
    on: datetime.date | None
    #: True when it has happened: a done field set, or a date that can only be recorded once it
    #: happened (consent, product received); screening: its date is today or before.
    done: bool
    case_key: str | None

    @property
    def planned(self) -> bool:
        """A date recorded that has not happened yet."""
        return self.on is not None and not self.done


def _date(value) -> datetime.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def key_dates(assessment: Assessment, *, today: datetime.date | None = None) -> list[KeyDate]:
    """The episode's key dates in the order of the path (recorded or not)."""
    from django.utils import timezone

    today = today or timezone.localdate()
    data = assessment.data or {}
    dates = []
    for spec in KEY_DATES:
        on = _date(data.get(spec.case_key)) if spec.case_key else _date(getattr(assessment, spec.field))
        if spec.done_field:
            done = bool(getattr(assessment, spec.done_field)) and on is not None
        elif spec.key == "screening":
            done = on is not None and on <= today
        else:
            done = on is not None
        dates.append(KeyDate(spec.key, spec.label, on, done, spec.case_key))
    return dates


def day0(assessment: Assessment) -> datetime.date | None:
    """The infusion date (planned or given), or ``None``."""
    return _date((assessment.data or {}).get("infusion_date"))


def day_number(on: datetime.date | None, zero: datetime.date | None) -> int | None:
    """``on`` counted from day 0 (``None`` without either date)."""
    if on is None or zero is None:
        return None
    return (on - zero).days


def day_text(on: datetime.date | None, zero: datetime.date | None) -> str:
    """"day −5", "day 0", "day +28" (a typographic minus), or "" without day 0."""
    number = day_number(on, zero)
    if number is None:
        return ""
    if number == 0:
        return "day 0"
    return f"day {'+' if number > 0 else '−'}{abs(number)}"


__all__ = ["KEY_DATES", "KEY_DATE_SPECS", "KeyDate", "KeyDateSpec", "day0", "day_number", "day_text", "key_dates"]
