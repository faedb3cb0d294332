"""After day 0 (issue 14): the end dates of the periods a rule set asks of the patient after the
infusion, computed from the infusion date (day 0) and the rule-set version in force.

- stay near the treatment centre: [`proximity_stay_weeks`] weeks (rule 23);
- no driving or hazardous activities: [`driving_restriction_weeks`] weeks (rule 24);
- full-time caregiver: [`caregiver_days`] days (rule 22).

A period of W weeks lasts ceil(7 x W) days (a decimal number of weeks never shortens it) and ends
on day 0 + that many days: "until 2026-12-29 (day 28)". A threshold the version does not hold, or
holds "to be entered", gives no period. Pure: no Django, no database.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

#: (key, label for staff, plain words for the patient, threshold key, unit of the threshold)
PERIODS: tuple[tuple[str, str, str, str, str], ...] = (
    ("proximity", "Stay near the treatment centre", "Stay near the treatment centre", "proximity_stay_weeks", "weeks"),
    ("driving", "No driving or operating machinery", "Do not drive or operate heavy machinery",
     "driving_restriction_weeks", "weeks"),
    ("caregiver", "Full-time caregiver", "Have a caregiver with you at all times", "caregiver_days", "days"),
)


@dataclass(frozen=True)
class AftercarePeriod:
    key: str  # "proximity", "driving", "caregiver"
    label: str  # for staff
    plain: str  # for the patient's card
    threshold: str  # the threshold key it was computed from
    amount: Decimal  # the threshold's value, in ``unit``
    unit: str  # "weeks" or "days"
    length_days: int
    starts_on: datetime.date  # day 0
    ends_on: datetime.date  # day 0 + length_days

    @property
    def end_day(self) -> int:
        """The day number of ``ends_on`` relative to day 0."""
        return self.length_days


def period_days(amount: Decimal, unit: str) -> int:
    """The period's length in whole days (weeks x 7, rounded up)."""
    days = Decimal(amount) * 7 if unit == "weeks" else Decimal(amount)
    return math.ceil(days)


def after_infusion(day0: datetime.date, thresholds: Mapping[str, Decimal | None]) -> list[AftercarePeriod]:
    """The periods after the infusion on ``day0`` that ``thresholds`` (a rule set's) give, in the
    order of :data:`PERIODS`."""
    periods = []
    for key, label, plain, threshold, unit in PERIODS:
        amount = thresholds.get(threshold)
        if amount is None:
            continue
        length = period_days(amount, unit)
        periods.append(AftercarePeriod(key=key, label=label, plain=plain, threshold=threshold, amount=Decimal(amount),
                                       unit=unit, length_days=length, starts_on=day0,
                                       ends_on=day0 + datetime.timedelta(days=length)))
    return periods


__all__ = ["PERIODS", "AftercarePeriod", "after_infusion", "period_days"]
