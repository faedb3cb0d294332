"""What goes stale and this week (issue 14 item 3), reads: the expiries of the worklist's rows and
the coordinators' "this week" page.

Both read, of each current episode they show, its case (``data``: the values and treatment dates),
its key-date fields and the rule-set version of its current evaluation, never the stored checklist
(``inputs``, ``checklist``: about 7 KB of JSON per evaluation). The freshness rule is the engine's
(``rules.freshness``, criteria.md 17); the after-infusion periods are ``rules.aftercare``'s.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..patients.episodes import KEY_DATES, day0, day_text, key_dates
from ..patients.models import Patient
from ..rules import Expiry, RuleSetData, after_infusion, expiries
from ..rulesets.selectors import engines_by_id

#: Days the "this week" page covers: today and the 6 after.
WEEK_DAYS = 7


def rulesets_by_id(ids: Iterable[int]) -> dict[int, RuleSetData]:
    """The rule-set versions of ``ids`` as plain data: published versions' from the engines built
    once per process (no query once built), a draft's read again."""
    return {pk: engine.ruleset for pk, engine in engines_by_id(ids).items()}


@dataclass(frozen=True)
class DueDate:
    """A key date of the current episode planned in the coming week (a worklist row shows it)."""

    label: str
    on: datetime.date
    day: str  # "day −5" once day 0 is known ("" for the infusion itself: its label says day 0)
    days_away: int

    @property
    def when(self) -> str:
        return {0: "today", 1: "tomorrow"}.get(self.days_away, f"in {self.days_away} days")


def with_expiries(patients: list[Patient], *, today: datetime.date) -> list[Patient]:
    """Sets ``patient.expiries`` (what expires before the next planned date of the current episode,
    criteria.md 17) and ``patient.due`` (its key dates planned for today and the 6 days after, as
    the "this week" page lists them) on each of ``patients``, the rows of one worklist page as
    ``worklist_patients`` reads them (each with its episode's case, key-date fields and current
    evaluation's rule-set id): no query once the rule-set versions' engines are built. A closed
    episode has neither; one not evaluated yet has no expiries."""
    rulesets = page_rulesets(patients)
    for patient in patients:
        patient.expiries, patient.due = expiries_and_due(patient.assessment, rulesets, today=today)
    return patients


def page_rulesets(patients: Iterable[Patient]) -> dict[int, RuleSetData]:
    """The rule-set versions of the current evaluations of ``patients``' episodes, by key."""
    return rulesets_by_id(patient.assessment.current_evaluation.ruleset_id for patient in patients
                          if patient.assessment.current_evaluation_id is not None)


def expiries_and_due(episode, rulesets: dict[int, RuleSetData], *, today: datetime.date) -> tuple[list, list]:
    """:func:`with_expiries`' two lists for one episode (a worklist row's, with its case, key-date
    fields and current evaluation), ``rulesets`` those of :func:`page_rulesets`; the episode is not
    changed."""
    if episode.closed_at is not None:
        return [], []
    end = today + datetime.timedelta(days=WEEK_DAYS - 1)
    data, evaluation = episode.data, episode.current_evaluation  # selected with the row (None if none)
    ruleset = rulesets.get(evaluation.ruleset_id) if evaluation is not None else None
    found = expiries(data, ruleset, as_of=today) if ruleset is not None and data else []
    # "Out of date" once its last day current has passed, else "Expires"; a value of a window of
    # 0 days (the temperature: taken on the infusion day) only in the week of its treatment date.
    shown = [("Out of date" if expiry.valid_until < today else "Expires", expiry) for expiry in found
             if expiry.window_days > 0 or expiry.anchor_on <= end]
    zero = day0(episode)
    due = [DueDate(date.label, date.on, "" if date.key == "infusion" else day_text(date.on, zero),
                   (date.on - today).days)
           for date in key_dates(episode, today=today) if date.planned and today <= date.on <= end]
    return shown, due


@dataclass(frozen=True)
class WeekEntry:
    """One line of the "this week" page."""

    patient: Patient
    kind: str  # "date", "aftercare", "expiry"
    icon: str  # shown beside the words, hidden from screen readers (the words say it)
    what: str  # "Planned", "Ends", "Expires", "Out of date", "Current until"
    text: str
    day: str = ""  # "day −5", "day 0", "day +28" once day 0 is known


@dataclass
class WeekDay:
    on: datetime.date
    today: bool
    entries: list[WeekEntry] = field(default_factory=list)


@dataclass
class Week:
    start: datetime.date
    days: list[WeekDay]
    #: Values already out of date for a planned anchor later than the week (criteria.md 17).
    later: list[tuple[Patient, Expiry]]

    @property
    def end(self) -> datetime.date:
        return self.days[-1].on


_KIND_ORDER = {"date": 0, "aftercare": 1, "expiry": 2}
_DATE_FIELDS = tuple(spec.field for spec in KEY_DATES if spec.field) + tuple(
    spec.done_field for spec in KEY_DATES if spec.done_field)


def this_week_episodes():
    """Patients not withdrawn whose current episode is open, with only what the page reads: the
    patient's identifiers, the episode's case, key-date fields and current evaluation's rule-set id.

    Scaling: one query reading one row per open current episode (closed episodes and withdrawn
    patients are filtered in the database) and its case JSON (a few KB; not the evaluation's stored
    checklist, which is not even joined beyond its rule-set id). The work is linear in the number of
    open episodes of the programme, which is bounded by the patients in work-up at once (hundreds),
    not by the programme's history: closed episodes and past evaluations are never read.
    """
    return (Patient.objects.active().filter(assessment__isnull=False, assessment__closed_at__isnull=True)
            .select_related("assessment", "assessment__current_evaluation")
            .only("public_id", "study_id", "initials", "assessment__data", "assessment__current_evaluation",
                  *(f"assessment__{name}" for name in _DATE_FIELDS), "assessment__current_evaluation__ruleset")
            .order_by("study_id", "pk"))


def this_week(*, today: datetime.date) -> Week:
    """Every open current episode's events of the 7 days from ``today``, grouped by day: the key
    dates planned, the end dates of the after-infusion periods (under the rule-set version of the
    episode's current evaluation) and the expiries (criteria.md 17): a value whose ``valid_until``
    falls in the week shows on that day; one already out of date for an anchor in the week, on the
    anchor's day; every one out of date for an anchor after the week, in ``later`` too. Three
    queries (the episodes, the rule-set versions, their values when not built yet)."""
    end = today + datetime.timedelta(days=WEEK_DAYS - 1)
    days = {today + datetime.timedelta(days=n): WeekDay(today + datetime.timedelta(days=n), n == 0)
            for n in range(WEEK_DAYS)}
    later: list[tuple[Patient, Expiry]] = []
    patients = list(this_week_episodes())
    rulesets = rulesets_by_id(
        patient.assessment.current_evaluation.ruleset_id for patient in patients
        if patient.assessment.current_evaluation is not None)
    for patient in patients:
        episode = patient.assessment
        zero = day0(episode)
        for date in key_dates(episode, today=today):
            if date.planned and date.on in days:
                # The infusion's label says "day 0" already.
                days[date.on].entries.append(WeekEntry(patient, "date", "◆", "Planned", date.label,
                                                       "" if date.key == "infusion" else day_text(date.on, zero)))
        evaluation = episode.current_evaluation
        ruleset = rulesets.get(evaluation.ruleset_id) if evaluation is not None else None
        if ruleset is None:
            continue
        if zero is not None:
            for period in after_infusion(zero, ruleset.thresholds):
                if period.ends_on in days:
                    days[period.ends_on].entries.append(WeekEntry(
                        patient, "aftercare", "■", "Ends", f"{period.label}: last day of the {period.length_days} "
                        f"days after the infusion on {zero.isoformat()}", day_text(period.ends_on, zero)))
        for expiry in expiries(episode.data, ruleset, as_of=today, within_days=WEEK_DAYS):
            if expiry.window_days == 0 and expiry.anchor_on > end:
                continue  # taken on the treatment day itself (the temperature): its week will say so
            if today <= expiry.valid_until <= end:
                what = "Expires" if expiry.expires_before_anchor else "Current until"
                days[expiry.valid_until].entries.append(WeekEntry(
                    patient, "expiry", "◷", what, expiry.text, day_text(expiry.valid_until, zero)))
            elif expiry.anchor_on <= end:
                days[expiry.anchor_on].entries.append(WeekEntry(
                    patient, "expiry", "⚠", "Out of date", expiry.text, day_text(expiry.anchor_on, zero)))
            elif expiry.expires_before_anchor:  # once, not also under a day of the week
                later.append((patient, expiry))
    for day in days.values():
        day.entries.sort(key=lambda entry: (entry.patient.study_id.upper(), _KIND_ORDER[entry.kind]))
    later.sort(key=lambda pair: (pair[1].anchor_on, pair[0].study_id.upper()))
    return Week(start=today, days=list(days.values()), later=later)


__all__ = ["WEEK_DAYS", "DueDate", "Week", "WeekDay", "WeekEntry", "expiries_and_due", "page_rulesets",
           "rulesets_by_id", "this_week", "this_week_episodes", "with_expiries"]
