"""What touched an episode, in order: its key dates, the measurements recorded with their dates,
its evaluations, decisions, signatures (and voids), the steps of its questions and the rule-set
publishes that re-evaluated it or asked for a review of it.

A constant number of queries whatever the number of rows (one per kind of record, users and
rule sets joined), so the page costs the same for a long episode as for a short one.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from ...common.display import input_label, input_text
from ...common.people import display_name
from ...patients.episodes import KeyDate, day0, day_text, key_dates
from ...patients.models import UNSHOWN_EVALUATION_FIELDS, Assessment
from ...rules import CATALOGUE_BY_CODE, AftercarePeriod, LocalDateTime, after_infusion, measure
from ...rulesets.models import RuleSet
from ..handoffs.models import QuestionEntry
from ..models import Disposition, ReviewRequest, SignOff

#: Measurement objects of the case with a ``measured_on`` date (criteria.md 9.3, 10.2), in the order
#: the timeline lists values recorded on the same day.
MEASURED = ("alc", "lvef", "spo2_room_air")
LABS = ("bilirubin", "ast", "alt", "creatinine", "creatinine_clearance", "anc", "haemoglobin", "platelets", "crp",
        "ferritin", "ldh")
#: The serologies dated by ``infections.markers_tested_on`` (criteria.md 9.3).
MARKERS = ("hbv", "hcv", "hiv")

#: Kinds of rows, in words (a column of the table, and a filter for tests).
KIND_WORDS = {
    "episode": "Episode", "key_date": "Key date", "measurement": "Measurement", "evaluation": "Checklist",
    "decision": "Decision", "signature": "Signature", "void": "Signature voided", "question": "Question",
    "publish": "Rule-set version", "review": "Review request",
}
DONE_ICON, PLANNED_ICON = "✓", "◷"


def episode_or_404(public_id) -> Assessment:
    """The episode with its patient and current checklist's rule-set version (one query; the
    checklist's stored JSON is not read)."""
    deferred = [f"current_evaluation__{name}" for name in UNSHOWN_EVALUATION_FIELDS]
    return get_object_or_404(
        Assessment.objects.select_related("patient", "opened_by", "closed_by", "current_evaluation__ruleset")
        .defer(*deferred), public_id=public_id)


@dataclass(frozen=True)
class Row:
    """One line of the timeline: when, what, who, a link where there is one."""

    on: datetime.date
    #: The time of day for events (``None`` for a date: key dates, measurements dated by day).
    at: datetime.time | None
    kind: str
    what: str
    who: str = ""
    url: str = ""
    link_text: str = ""
    day: str = ""
    #: Key dates: "done" or "planned" (words and icon on the page).
    state: str = ""
    order: int = 0

    @property
    def kind_text(self) -> str:
        return KIND_WORDS[self.kind]

    @property
    def state_icon(self) -> str:
        return {"done": DONE_ICON, "planned": PLANNED_ICON}.get(self.state, "")

    def sort_key(self):
        return (self.on, self.at is not None, self.at or datetime.time.min, self.order)


@dataclass
class Timeline:
    episode: Assessment
    rows: list[Row]
    dates: list[KeyDate]
    day0: datetime.date | None
    #: The version in force for the episode (its current checklist's), or ``None`` before any.
    ruleset: RuleSet | None
    thresholds: Mapping[str, Decimal | None]
    periods: list[AftercarePeriod]
    undated: list[str] = field(default_factory=list)
    today: datetime.date = field(default_factory=timezone.localdate)

    @property
    def not_recorded(self) -> list[KeyDate]:
        return [date for date in self.dates if date.on is None]


def version_in_force(episode: Assessment) -> RuleSet | None:
    """The rule-set version of the episode's current checklist (the one its decisions stand on)."""
    evaluation = episode.current_evaluation
    return evaluation.ruleset if evaluation is not None else None


def thresholds_of(ruleset: RuleSet | None) -> dict[str, Decimal | None]:
    return dict(ruleset.thresholds.values_list("key", "value")) if ruleset is not None else {}


def periods_of(episode: Assessment, thresholds: Mapping[str, Decimal | None]) -> list[AftercarePeriod]:
    zero = day0(episode)
    return after_infusion(zero, thresholds) if zero is not None else []


def _local(moment: datetime.datetime) -> tuple[datetime.date, datetime.time]:
    local = timezone.localtime(moment)
    return local.date(), local.time()


def _date(value: Any) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _value_text(value: Mapping[str, Any]) -> str:
    text = measure(value["value"], value.get("unit"))
    if value.get("uln") is not None:
        text += f" (upper limit of normal {measure(value['uln'], 'U/L')})"
    return text


Dated = tuple[datetime.date, datetime.time | None, str]


def measurement_rows(data: Mapping[str, Any]) -> tuple[list[Dated], list[str]]:
    """The dated values of a case as (date, time or ``None``, "label: value"), and the labels of
    values recorded without a date."""
    dated: list[Dated] = []
    undated: list[str] = []

    def add(path: str, value: Any) -> None:
        if not isinstance(value, Mapping) or value.get("value") is None:
            return
        on = _date(value.get("measured_on"))
        if on is None:
            undated.append(input_label(path))
        else:
            dated.append((on, None, f"{input_label(path)}: {_value_text(value)}"))

    for path in MEASURED:
        add(path, data.get(path))
    labs = data.get("labs") or {}
    for name in LABS:
        add(f"labs.{name}", labs.get(name))
    temperature = data.get("temperature")
    if isinstance(temperature, Mapping) and temperature.get("value") is not None:
        try:
            moment = LocalDateTime.from_text(temperature["measured_at"]) if temperature.get("measured_at") else None
        except ValueError:
            moment = None
        if moment is None:
            undated.append(input_label("temperature"))
        else:
            dated.append((moment.date(), moment.time(), f"{input_label('temperature')}: {_value_text(temperature)}"))
    infections = data.get("infections") or {}
    markers = _date(infections.get("markers_tested_on"))
    results = [f"{input_label(f'infections.{key}')} {input_text(f'infections.{key}', infections[key])}"
               for key in MARKERS if infections.get(key) is not None]
    if markers is not None:
        what = "Infectious-disease markers drawn" + (f": {'; '.join(results)}" if results else "")
        dated.append((markers, None, what))
    elif results:
        undated.append("Infectious-disease markers")
    if infections.get("sars_cov_2") is not None:
        tested = _date(infections.get("sars_cov_2_tested_on"))
        result = input_text("infections.sars_cov_2", infections["sars_cov_2"])
        text = f"{input_label('infections.sars_cov_2')}: {result}"
        if tested is None:
            undated.append(input_label("infections.sars_cov_2"))
        else:
            dated.append((tested, None, text))
    return dated, undated


def _item_title(code: str) -> str:
    entry = CATALOGUE_BY_CODE.get(code)
    return entry.title if entry is not None else code.replace("_", " ")


def _decision_text(disposition: Disposition) -> str:
    text = f"{_item_title(disposition.code)}: {disposition.get_kind_display()}"
    if disposition.kind == Disposition.Kind.OVERRIDDEN and disposition.reason_code:
        text += f" ({disposition.get_reason_code_display()})"
    return text


def episode_timeline(episode: Assessment, *, can_see_rulesets: bool = False,
                     today: datetime.date | None = None) -> Timeline:
    """Everything that touched ``episode``, oldest first (newest last)."""
    today = today or timezone.localdate()
    zero = day0(episode)
    rows: list[Row] = []

    def add(on, at, kind, what, **extra):
        rows.append(Row(on=on, at=at, kind=kind, what=what, day=day_text(on, zero), order=len(rows), **extra))

    if episode.opened_at is not None:
        add(*_local(episode.opened_at), "episode",
            f"Episode {episode.number} opened ({episode.get_kind_display().lower()})",
            who=display_name(episode.opened_by) if episode.opened_by_id else "")
    dates = key_dates(episode, today=today)
    for date in dates:
        if date.on is not None:
            add(date.on, None, "key_date", date.label, state="done" if date.done else "planned")
    dated, undated = measurement_rows(episode.data or {})
    for on, at, what in dated:
        add(on, at, "measurement", what)

    evaluations = list(episode.evaluations.select_related("ruleset__published_by", "created_by")
                       .defer(*UNSHOWN_EVALUATION_FIELDS).order_by("created_at", "id"))
    publishes: dict[int, RuleSet] = {}
    for evaluation in evaluations:
        what = (f"Checklist: {evaluation.get_overall_display()} ({evaluation.get_stage_display().lower()}), "
                f"rule set {evaluation.ruleset.name} version {evaluation.ruleset.version}")
        if evaluation.reevaluated_from_id is not None:
            what = f"Re-evaluated under rule-set version {evaluation.ruleset.version}. " + what
            publishes[evaluation.ruleset_id] = evaluation.ruleset
        add(*_local(evaluation.created_at), "evaluation", what, who=display_name(evaluation.created_by),
            url=reverse("evaluation_detail", args=[evaluation.public_id]), link_text="View the checklist")
    by_pk = {evaluation.pk: evaluation for evaluation in evaluations}

    for disposition in Disposition.objects.filter(evaluation__assessment=episode).only(
            "evaluation_id", "code", "kind", "reason_code", "decided_by_name", "decided_at"):
        evaluation = by_pk.get(disposition.evaluation_id)
        add(*_local(disposition.decided_at), "decision", _decision_text(disposition), who=disposition.decided_by_name,
            url=reverse("evaluation_detail", args=[evaluation.public_id]) + f"#item-{disposition.code}"
            if evaluation else "", link_text="View the item")
    for signoff in SignOff.objects.filter(assessment=episode).select_related("voided_by").only(
            "public_id", "evaluation_id", "meaning", "signer_name", "signed_at", "voided_at", "void_reason",
            "voided_by__first_name", "voided_by__last_name", "voided_by__username"):
        add(*_local(signoff.signed_at), "signature", f"Signed: {signoff.meaning}", who=signoff.signer_name,
            url=reverse("signoff_pdf", args=[signoff.public_id]), link_text="Signed checklist (PDF)")
        if signoff.voided_at is not None:
            add(*_local(signoff.voided_at), "void", f"Signature of {signoff.signer_name} voided"
                + (f": {signoff.void_reason}" if signoff.void_reason else ""), who=display_name(signoff.voided_by))
    for entry in QuestionEntry.objects.filter(question__assessment=episode).select_related("question").only(
            "kind", "text", "by_name", "at", "question__public_id", "question__item_title"):
        what = f"{entry.get_kind_display()} on {entry.question.item_title}" + (f": {entry.text}" if entry.text else "")
        add(*_local(entry.at), "question", what, who=entry.by_name,
            url=reverse("question_detail", args=[entry.question.public_id]), link_text="View the question")
    for request in ReviewRequest.objects.filter(assessment=episode).select_related("ruleset__published_by"):
        publishes[request.ruleset_id] = request.ruleset
        add(*_local(request.created_at), "review",
            f"Review requested by rule-set version {request.ruleset.version}: {request.message}")
        if request.resolved_at is not None:
            add(*_local(request.resolved_at), "review", f"Review request: {request.get_resolution_display().lower()}"
                + (f" ({request.justification})" if request.justification else ""), who=request.resolved_by_name)
    for ruleset in publishes.values():
        if ruleset.published_at is None:
            continue
        add(*_local(ruleset.published_at), "publish",
            f"Rule-set version {ruleset.version} ({ruleset.name}) published", who=display_name(ruleset.published_by)
            if ruleset.published_by_id else "", url=reverse("ruleset_detail", args=[ruleset.version])
            if can_see_rulesets else "", link_text=f"Version {ruleset.version}")
    if episode.closed_at is not None:
        note = f" ({episode.close_note})" if episode.close_note else ""
        add(*_local(episode.closed_at), "episode",
            f"Episode {episode.number} closed: {episode.get_close_reason_display().lower()}{note}",
            who=display_name(episode.closed_by) if episode.closed_by_id else "")

    rows.sort(key=Row.sort_key)
    ruleset = version_in_force(episode)
    thresholds = thresholds_of(ruleset)
    return Timeline(episode=episode, rows=rows, dates=dates, day0=zero, ruleset=ruleset, thresholds=thresholds,
                    periods=periods_of(episode, thresholds), undated=undated, today=today)
