"""The intake form's field table: one entry per case path, in the order a coordinator meets them.

Everything the intake screens know of a field is read from its entry: the section it is in, its
label and the words of its choices (the engine's vocabulary, ``rules/vocabulary.py``, which every
screen showing a recorded value uses too), when it applies (the server's check on save, and the
``data-show-when`` attribute static/js/intake.js reads), how it becomes form fields (a value with
its unit is two or more: value, unit, the laboratory's upper limit of normal, the date or date and
time it was measured), its problems' place and its label in the history. What a value may be (types,
ranges, units, the members of an object) comes from the engine's case schema, never from here.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import msgspec.inspect as schema
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from ..common.display import input_label, input_text, object_members
from ..common.vocabulary import STAGE_LABELS, unit_text
from ..rules import (
    CHOICES,
    LABELS,
    PHASES,
    PRE_APHERESIS,
    PRE_INFUSION,
    PRE_LYMPHODEPLETION,
    SCREENING,
    UNITS,
    LocalDateTime,
    case_field_types,
    plain,
)


class Kind(StrEnum):
    """What a field holds, and so which form fields it becomes."""

    CHOICE = "choice"  # one of the values the case schema lists, in the entry's words
    PRODUCT = "product"  # a product of the rule set's catalogue
    YES_NO = "yes_no"
    NUMBER = "number"  # whole or decimal as the schema says, with its bounds as browser hints
    DATE = "date"  # done (not after today) or, with ``planned``, done or planned (up to the horizon)
    MEASUREMENT = "measurement"  # a value with the unit it was taken in (the schema lists the units), and the
    # other members the schema gives the object: AST/ALT's upper limit of normal, the date (or date and time) taken
    CHOICE_LIST = "choice_list"  # every value that applies of those the schema lists (a list), or "none of these"
    WASHOUT = "washout"  # a treatment's status (never, ongoing, stopped) with its last dose when stopped


NOT_RECORDED = ("", "Not recorded")
YES_NO = [NOT_RECORDED, ("true", "Yes"), ("false", "No")]

#: Dates: none before 1900; a sampling or measurement date not after today; a planned date (the
#: leukapheresis may be planned) at most this many days ahead. A product decision of the web form
#: (issue 9, item 4): a year covers any realistic work-up; the rules engine keeps its own checks.
EARLIEST_DATE = datetime.date(1900, 1, 1)
PLANNED_DATE_HORIZON_DAYS = 365


def field_name(path: str) -> str:
    """The form field name of a case path (``infections.hbv`` -> ``infections__hbv``)."""
    return path.replace(".", "__")


def form_text(value: Any) -> str:
    """A case value as the browser sends it (``True`` -> ``"true"``, ``None`` -> ``""``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


#: The members of a measurement or washout object in the order the form shows them, with their labels
#: inside the object's fieldset (whose legend names the object).
MEMBER_ORDER = ("value", "unit", "uln", "measured_on", "measured_at", "status", "last_dose_at", "last_dose_on")
MEMBER_LABELS = {
    "value": "Value",
    "unit": "Unit",
    "uln": "Upper limit of normal (U/L)",
    "measured_on": "Measured on",
    "measured_at": "Taken at (date and time)",
    "status": "Status",
    "last_dose_at": "Last dose (date and time)",
    "last_dose_on": "Last dose (date)",
}
#: The date members of objects, and the member a washout's last dose is recorded in only when stopped.
DATE_MEMBERS = ("measured_on", "measured_at", "last_dose_at", "last_dose_on")
LAST_DOSE_WHEN = "stopped"
#: The box of a list of choices that records that none of them applies (``[]``), unlike no box ticked.
NONE_OF_THESE = "none_of_these"


def path_value(data: dict[str, Any], path: str) -> Any:
    """The value of a case path in case data (``infections.hbv`` reads ``data["infections"]["hbv"]``)."""
    group, _, name = path.partition(".")
    return (data.get(group) or {}).get(name) if name else data.get(path)


CASE_TYPES = case_field_types()


def _units(info) -> tuple[str, ...]:
    """The units a measurement of the case schema takes: a ``unit`` field's values (ALC), or the
    tags of a union of structs tagged by unit (temperature, bilirubin); in the vocabulary's order of
    units (the schema's literals come sorted: ``10^3/uL`` before ``10^9/L``)."""
    order = list(UNITS)
    units = object_members(info)["unit"].values
    return tuple(sorted(units, key=lambda unit: order.index(unit) if unit in order else len(order)))


def _in_words(values: tuple[str, ...], words: Mapping[str, str]) -> list[tuple[str, str]]:
    """Choices in words, in the vocabulary's order, which is the case format's (the schema's literals come
    sorted: "relapse after" before "relapse within", "other" before "ptld"); a value without words spaced."""
    order = list(words)
    ordered = sorted(values, key=lambda value: order.index(value) if value in order else len(order))
    return [(value, words.get(value, value.replace("_", " "))) for value in ordered]


def _limits(info) -> dict[str, Any]:
    attrs = {}
    low = info.ge if getattr(info, "ge", None) is not None else getattr(info, "gt", None)
    if low is not None:
        attrs["min"] = low
    if getattr(info, "le", None) is not None:
        attrs["max"] = info.le
    return attrs


def _value_limits(info) -> dict[str, Any]:
    """Browser hints for a measurement's value: the widest range over its units (each unit's own range
    is the engine's to check)."""
    structs = info.types if isinstance(info, schema.UnionType) else (info,)
    ranges = [_limits(next(field.type for field in struct.fields if field.name == "value")) for struct in structs]
    attrs = {}
    if all("min" in limits for limits in ranges):
        attrs["min"] = min(limits["min"] for limits in ranges)
    if all("max" in limits for limits in ranges):
        attrs["max"] = max(limits["max"] for limits in ranges)
    return attrs


class DateWithin:
    """A date from 1900 to today (sampling, measurement) or to the planning horizon (planned dates),
    in the programme's time zone (``settings.TIME_ZONE``)."""

    def __init__(self, *, planned: bool):
        self.planned = planned

    @staticmethod
    def latest(planned: bool) -> datetime.date:
        today = timezone.localdate()
        return today + datetime.timedelta(days=PLANNED_DATE_HORIZON_DAYS) if planned else today

    def __call__(self, value: datetime.date) -> None:
        if value < EARLIEST_DATE:
            raise ValidationError("cannot be before 1 January 1900: check the year.", code="too_early")
        latest = self.latest(self.planned)
        if value > latest:
            if self.planned:
                raise ValidationError(
                    f"cannot be more than {PLANNED_DATE_HORIZON_DAYS} days ahead (latest {latest:%d %b %Y}): "
                    "check the year.", code="too_late")
            raise ValidationError(f"cannot be after today ({latest:%d %b %Y}): enter the date it was done.",
                                  code="in_future")


class LocalDateTimeField(forms.CharField):
    """A date and time of the treating site as the case format writes it (``YYYY-MM-DDTHH:MM``, what a
    ``datetime-local`` input sends), done: not after today. Kept as written (no time-zone conversion)."""

    def __init__(self, **kwargs):
        latest = DateWithin.latest(planned=False)
        kwargs.setdefault("widget", forms.DateTimeInput(attrs={"type": "datetime-local",
                                                              "min": f"{EARLIEST_DATE.isoformat()}T00:00",
                                                              "max": f"{latest.isoformat()}T23:59"}))
        kwargs.setdefault("help_text", f"Local time at the site; today ({latest:%d %b %Y}) or earlier "
                                       "(typed: 2026-03-17T08:30).")
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        text = super().to_python(value)
        if not text:
            return None
        try:
            moment = LocalDateTime.from_text(text)
        except ValueError:
            raise ValidationError("enter the date and the time (hours and minutes) it was done.",
                                  code="invalid") from None
        DateWithin(planned=False)(moment.date())
        # Done: not later than now either (the site's local time, to the minute).
        now = timezone.localtime().replace(second=0, microsecond=0, tzinfo=None)
        if moment.date() == now.date() and datetime.datetime.fromisoformat(text[:16]) > now:
            raise ValidationError(f"cannot be later than now ({now:%H:%M} today): enter the time it was done.",
                                  code="in_future")
        return text


@dataclass(frozen=True)
class IntakeField:
    """One case path on the intake form."""

    path: str
    kind: Kind
    #: The phase whose section shows it (set by :func:`_section`).
    phase: str = ""
    #: When it applies: alternatives ``(case path, value as the form sends it)`` of fields of the
    #: same section; empty: always.
    when: tuple[tuple[str, str], ...] = ()
    #: Dates: done or planned (up to the horizon) rather than done (up to today).
    planned: bool = False
    help_text: str = ""
    #: A date that dates other values (the weight's date, the markers' draw, the swab): the case paths
    #: it dates. Like a measurement's own date, it defaults to today while they are not recorded, and
    #: that default alone records nothing (:meth:`default_dates`).
    date_of: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Its label: the case path's words in the engine's vocabulary (every screen names it so)."""
        return LABELS[self.path]

    @property
    def words(self) -> Mapping[str, str]:
        """Choices: the words for the schema's values (a value without words is shown with spaces)."""
        return CHOICES.get(self.path, {})

    @property
    def info(self) -> schema.Type:
        """The field's type in the engine's case schema."""
        return CASE_TYPES[self.path]

    @property
    def members(self) -> tuple[str, ...]:
        """An object's members as the schema gives them (a measurement's value, unit, ...; a washout's
        status and last dose), in the order the form shows them; empty for a single value."""
        if self.kind not in (Kind.MEASUREMENT, Kind.WASHOUT):
            return ()
        schema_members = object_members(self.info)
        return tuple(member for member in MEMBER_ORDER if member in schema_members)

    def member_name(self, member: str) -> str:
        """The form field of an object's member (``labs.ast`` ``uln`` -> ``labs__ast__uln``: the engine's
        path of that member, as a field name)."""
        return field_name(f"{self.path}.{member}")

    @property
    def names(self) -> tuple[str, ...]:
        """Its form field names: an object's members (a measurement's value and unit first), else one."""
        if self.members:
            return tuple(self.member_name(member) for member in self.members)
        return (field_name(self.path),)

    @property
    def main_name(self) -> str:
        """The form field its problems and a colleague's value are shown beside."""
        return self.names[0]

    @property
    def show_when(self) -> str:
        """The condition for static/js/intake.js: ``name=value``, alternatives joined by ``|``."""
        return "|".join(f"{field_name(path)}={value}" for path, value in self.when)

    def applies(self, data: dict[str, Any]) -> bool:
        """Whether it applies to the case ``data`` (always, unless ``when`` says when)."""
        return not self.when or any(form_text(path_value(data, path)) == value for path, value in self.when)

    def initial(self, value: Any) -> dict[str, Any]:
        """Form initial values from the stored value."""
        if self.members:
            value = value if isinstance(value, dict) else {}
            initial = {self.member_name(member): value.get(member, "" if member in ("unit", "status") else None)
                       for member in self.members}
            if "unit" in self.members and not value.get("unit") and len(_units(self.info)) == 1:
                initial[self.member_name("unit")] = _units(self.info)[0]  # one unit: always shown chosen
            return initial
        if self.kind == Kind.CHOICE_LIST:
            return {self.main_name: [] if value is None else (list(value) or [NONE_OF_THESE])}
        return {self.main_name: form_text(value) if isinstance(value, bool) else value}

    def default_dates(self, value_of, now: datetime.datetime) -> dict[str, str]:
        """The dates a form shows pre-filled (editable) for a value not yet recorded, by form field name:
        a measurement's "measured on" today, the temperature's time now, a date of other values
        (``date_of``) today while neither it nor they are recorded. ``now``: local time of the
        programme; ``value_of``: a case path's recorded value. A default left with no value entered
        records nothing (the form compares with it)."""
        today = now.date().isoformat()
        if self.kind == Kind.MEASUREMENT:
            if value_of(self.path) is not None:
                return {}
            if "measured_on" in self.members:
                return {self.member_name("measured_on"): today}
            if "measured_at" in self.members:
                return {self.member_name("measured_at"): f"{now:%Y-%m-%dT%H:%M}"}
            return {}
        if self.date_of and value_of(self.path) is None and all(value_of(path) is None for path in self.date_of):
            return {self.main_name: today}
        return {}

    def _part(self, cleaned: dict[str, Any], member: str) -> Any:
        part = cleaned.get(self.member_name(member))
        if part in ("", None):
            return None
        return part.isoformat() if isinstance(part, datetime.date) else part

    def posted(self, cleaned: dict[str, Any]) -> Any:
        """The case value the user entered (``None`` = not recorded). A measurement is sent only with
        its value (see :meth:`incomplete` for its other members without it); a list of choices with
        "none of these" alone is ``[]``."""
        if self.kind == Kind.MEASUREMENT:
            if self._part(cleaned, "value") is None:
                return None
            parts = {member: self._part(cleaned, member) for member in self.members}
            if parts.get("unit") is None and len(_units(self.info)) == 1:
                parts["unit"] = _units(self.info)[0]  # the only unit the schema has, whatever the browser sent
            return {member: part for member, part in parts.items() if part is not None}
        if self.kind == Kind.WASHOUT:
            parts = {member: self._part(cleaned, member) for member in self.members}
            return {member: part for member, part in parts.items() if part is not None} or None
        value = cleaned.get(self.main_name)
        if self.kind == Kind.CHOICE_LIST:
            chosen = set(value or ())
            if not chosen or (NONE_OF_THESE in chosen and len(chosen) > 1):
                return None  # not recorded; both at once is said beside the field (incomplete)
            return [code for code, _ in self.choices({}) if code in chosen]
        if value in ("", None):
            return None
        return value.isoformat() if hasattr(value, "isoformat") else value

    def incomplete(self, cleaned: dict[str, Any], defaults: Mapping[str, str] | None = None) -> str | None:
        """What the user must complete or clear, when what they entered cannot be sent as it is: a
        measurement's unit, limit or date without its value (kept in the form, not dropped; a date
        left as the form's default, ``defaults``, is not entered), a list's "none of these" ticked with
        a choice."""
        defaults = defaults or {}
        if self.kind == Kind.MEASUREMENT and self._part(cleaned, "value") is None:
            without = []
            if self._part(cleaned, "unit") is not None and len(_units(self.info)) > 1:
                without.append("the unit")  # a measurement with one unit always shows it
            if "uln" in self.members and self._part(cleaned, "uln") is not None:
                without.append("the upper limit of normal")
            if any(self._part(cleaned, member) not in (None, defaults.get(self.member_name(member)))
                   for member in DATE_MEMBERS if member in self.members):
                without.append("the date")
            if without:
                return f"Enter the value, or clear {' and '.join(without)}."
        if self.kind == Kind.CHOICE_LIST:
            chosen = set(cleaned.get(self.main_name) or ())
            if NONE_OF_THESE in chosen and len(chosen) > 1:
                return "Tick the classes received, or “None of these”, not both."
        return None

    def choices(self, products: Mapping[str, str]) -> list[tuple[str, str]]:
        """The values offered, in words (choices, products, yes/no, units)."""
        if self.kind == Kind.CHOICE:
            return _in_words(self.info.values, self.words)
        if self.kind == Kind.PRODUCT:
            return list(products.items())
        if self.kind == Kind.YES_NO:
            return YES_NO[1:]
        if self.kind == Kind.MEASUREMENT:
            return [(unit, unit_text(unit)) for unit in _units(self.info)]
        if self.kind == Kind.CHOICE_LIST:
            return _in_words(self.info.item_type.values, self.words)
        if self.kind == Kind.WASHOUT:
            return _in_words(object_members(self.info)["status"].values, CHOICES.get(f"{self.path}.status", {}))
        return []

    def text(self, value: Any, products: Mapping[str, str]) -> str:
        """A stored value in words, as the form offers it (``True`` -> ``"Yes"``)."""
        if value is None:
            return "not recorded"
        if self.kind in (Kind.MEASUREMENT, Kind.WASHOUT, Kind.CHOICE_LIST):
            return input_text(self.path, value)  # as the history and the checklist write it
        offered = dict(self.choices(products))
        if form_text(value) in offered:
            return offered[form_text(value)]
        if isinstance(value, float | int):
            return plain(value)
        return str(value)

    def form_fields(self, products: Mapping[str, str]) -> dict[str, forms.Field]:
        """The form fields it becomes, by name."""
        info, label = self.info, self.label
        if self.kind in (Kind.CHOICE, Kind.PRODUCT):
            if self.kind == Kind.CHOICE and not isinstance(info, schema.LiteralType):
                raise TypeError(f"{self.path} is not a choice in the case schema: {info!r}")
            made = forms.ChoiceField(label=label, required=False, choices=[NOT_RECORDED, *self.choices(products)])
        elif self.kind == Kind.YES_NO and isinstance(info, schema.BoolType):
            made = forms.TypedChoiceField(label=label, required=False, choices=YES_NO,
                                          coerce=lambda value: value == "true", empty_value=None)
        elif self.kind == Kind.NUMBER and isinstance(info, schema.IntType):
            attrs = {**_limits(info), "step": info.multiple_of or 1, "inputmode": "numeric"}
            made = forms.IntegerField(label=label, required=False, widget=forms.NumberInput(attrs=attrs))
        elif self.kind == Kind.NUMBER and isinstance(info, schema.FloatType):
            attrs = {**_limits(info), "step": "any", "inputmode": "decimal"}
            made = forms.FloatField(label=label, required=False, widget=forms.NumberInput(attrs=attrs))
        elif self.kind == Kind.DATE and isinstance(info, schema.DateType):
            made = self._date_field()
            if self.date_of:
                made.help_text += " Pre-filled with today while nothing is recorded; kept only with a value."
        elif self.kind == Kind.CHOICE_LIST and isinstance(info, schema.ListType | schema.VarTupleType):
            made = forms.MultipleChoiceField(
                label=label, required=False, widget=forms.CheckboxSelectMultiple,
                choices=[*self.choices(products), (NONE_OF_THESE, "None of these")],
                help_text=self.help_text or "Tick every one received in any prior line, or “None of these”; "
                                            "leave every box empty when it is not known.")
        elif self.kind in (Kind.MEASUREMENT, Kind.WASHOUT) and object_members(info) and (
                self.kind == Kind.WASHOUT) == ("status" in object_members(info)):
            return {self.member_name(member): self._member_field(member, products) for member in self.members}
        else:
            raise TypeError(f"no {self.kind} form field for {self.path}: {info!r}")
        made.summary_label = label
        return {self.main_name: made}

    def _member_field(self, member: str, products: Mapping[str, str]) -> forms.Field:
        """The form field of one member of a measurement or washout object, labelled inside the object's
        fieldset ("Value", "Unit", "Measured on"); ``summary_label`` names it with the object."""
        info = object_members(self.info)[member]
        label = MEMBER_LABELS[member]
        if member == "value":
            made = forms.FloatField(label=label, required=False, help_text=self.help_text, widget=forms.NumberInput(
                attrs={**_value_limits(self.info), "step": "any", "inputmode": "decimal"}))
        elif member == "unit":
            units = self.choices(products)
            made = forms.ChoiceField(label=label, required=False,
                                     choices=units if len(units) == 1 else [("", "Choose"), *units])
        elif member == "status":
            made = forms.ChoiceField(label=label, required=False, choices=[NOT_RECORDED, *self.choices(products)])
        elif isinstance(info, schema.FloatType):
            made = forms.FloatField(label=label, required=False, widget=forms.NumberInput(
                attrs={**_limits(info), "step": "any", "inputmode": "decimal"}))
        elif isinstance(info, schema.DateType):
            made = self._date_field(label=label)
            made.help_text = (f"Today ({DateWithin.latest(planned=False):%d %b %Y}) or earlier; pre-filled with "
                              "today for a new value.")
        elif isinstance(info, schema.CustomType) and issubclass(info.cls, LocalDateTime):
            made = LocalDateTimeField(label=label)
            made.help_text += " Pre-filled with now for a new reading."
        else:
            raise TypeError(f"no form field for {self.path}.{member}: {info!r}")
        if member in ("last_dose_at", "last_dose_on"):
            made.help_text = f"Only when stopped. {made.help_text}"
        made.summary_label = self.label if member == "value" else input_label(f"{self.path}.{member}")
        return made

    def _date_field(self, label: str | None = None) -> forms.DateField:
        latest = DateWithin.latest(self.planned)
        if self.planned:
            help_text = (f"Done or planned: from 1900 up to {PLANNED_DATE_HORIZON_DAYS} days ahead "
                         f"(by {latest:%d %b %Y}).")
        else:
            help_text = f"The day it was done: today ({latest:%d %b %Y}) or earlier, not before 1900."
        return forms.DateField(label=label or self.label, required=False, help_text=help_text,
                               validators=[DateWithin(planned=self.planned)],
                               widget=forms.DateInput(format="%Y-%m-%d", attrs={
                                   "type": "date", "min": EARLIEST_DATE.isoformat(), "max": latest.isoformat()}))


def _section(phase: str, *entries: IntakeField) -> tuple[IntakeField, ...]:
    return tuple(replace(entry, phase=phase) for entry in entries)


B_ALL = (("diagnosis", "b_all"),)
AFTER_ALLO_HSCT = (("prior_allo_hsct", "true"),)


def _lab(path: str, help_text: str = "") -> IntakeField:
    return IntakeField(path, Kind.MEASUREMENT, help_text=help_text or "Enter what the lab sent and choose its unit.")


#: Every case path a coordinator records, by section (phase) in the order they meet them. ``as_of`` is
#: not one: the web application evaluates with today's date in the programme's time zone.
FIELDS: tuple[IntakeField, ...] = (
    *_section(
        SCREENING,
        IntakeField("diagnosis", Kind.CHOICE),
        IntakeField("disease_status", Kind.CHOICE),
        IntakeField("prior_lines", Kind.NUMBER),
        IntakeField("prior_drug_classes", Kind.CHOICE_LIST),
        IntakeField("first_line_response", Kind.CHOICE),
        IntakeField("relapse_number", Kind.NUMBER),
        IntakeField("lenalidomide_refractory", Kind.YES_NO),
        IntakeField("transplant_eligible", Kind.YES_NO),
        IntakeField("product", Kind.PRODUCT),
        IntakeField("target_antigen_status", Kind.CHOICE),
        IntakeField("age_years", Kind.NUMBER),
        IntakeField("sex", Kind.CHOICE),
        IntakeField("weight_kg", Kind.NUMBER),
        IntakeField("weight_measured_on", Kind.DATE, date_of=("weight_kg",)),
        IntakeField("ecog", Kind.NUMBER),
        IntakeField("karnofsky", Kind.NUMBER),
        IntakeField("lansky", Kind.NUMBER),
        IntakeField("life_expectancy_weeks", Kind.NUMBER),
        IntakeField("prior_allo_hsct", Kind.YES_NO),
        IntakeField("on_immunosuppression", Kind.YES_NO, when=AFTER_ALLO_HSCT),
        IntakeField("gvhd.acute_grade", Kind.NUMBER, when=AFTER_ALLO_HSCT),
        IntakeField("gvhd.chronic", Kind.CHOICE, when=AFTER_ALLO_HSCT),
        IntakeField("prior_bispecific", Kind.YES_NO),
        IntakeField("prior_car_t", Kind.YES_NO),
        IntakeField("antigen_retested_after_targeted_therapy", Kind.YES_NO,
                    when=(("prior_bispecific", "true"), ("prior_car_t", "true"))),
        IntakeField("prior_inotuzumab", Kind.YES_NO),
        IntakeField("cns_involvement", Kind.YES_NO),
        IntakeField("anticonvulsant_prophylaxis", Kind.YES_NO, when=(("cns_involvement", "true"),)),
        IntakeField("infections.bacterial", Kind.CHOICE),
        IntakeField("infections.fungal", Kind.CHOICE),
        IntakeField("infections.viral", Kind.CHOICE),
        IntakeField("infections.hbv", Kind.CHOICE),
        IntakeField("infections.hbv_prophylaxis", Kind.YES_NO, when=(("infections.hbv", "positive"),)),
        IntakeField("infections.hcv", Kind.CHOICE),
        IntakeField("infections.hcv_prophylaxis", Kind.YES_NO, when=(("infections.hcv", "positive"),)),
        IntakeField("infections.hiv", Kind.CHOICE),
        IntakeField("infections.hiv_prophylaxis", Kind.YES_NO, when=(("infections.hiv", "positive"),)),
        IntakeField("infections.markers_tested_on", Kind.DATE,
                    date_of=("infections.hbv", "infections.hcv", "infections.hiv")),
        IntakeField("marrow_blasts_pct", Kind.NUMBER, when=B_ALL),
        IntakeField("mrd", Kind.CHOICE, when=B_ALL),
    ),
    *_section(
        PRE_APHERESIS,
        IntakeField("alc", Kind.MEASUREMENT,
                    help_text="1 cell/µL = 0.001 ×10⁹/L; enter what the lab sent and choose its unit."),
        IntakeField("washout.systemic_corticosteroids", Kind.WASHOUT),
        IntakeField("washout.cytotoxic_chemotherapy", Kind.WASHOUT),
        IntakeField("leukapheresis_date", Kind.DATE, planned=True),
        IntakeField("starting_material", Kind.CHOICE),
        IntakeField("cryopreserved_months", Kind.NUMBER, when=(("starting_material", "cryopreserved"),)),
    ),
    *_section(
        PRE_LYMPHODEPLETION,
        IntakeField("lymphodepletion", Kind.CHOICE),
        IntakeField("lymphodepletion_start_date", Kind.DATE, planned=True),
        IntakeField("product_received_on", Kind.DATE),
        IntakeField("product_manufacture_confirmed", Kind.YES_NO),
        IntakeField("infections.sars_cov_2", Kind.CHOICE),
        IntakeField("infections.sars_cov_2_tested_on", Kind.DATE, date_of=("infections.sars_cov_2",),
                    when=(("infections.sars_cov_2", "negative"), ("infections.sars_cov_2", "positive"))),
        _lab("labs.bilirubin"),
        IntakeField("gilbert_syndrome", Kind.YES_NO),
        _lab("labs.ast", "The value and the upper limit of normal the lab gives with it."),
        _lab("labs.alt", "The value and the upper limit of normal the lab gives with it."),
        _lab("labs.creatinine"),
        _lab("labs.creatinine_clearance", "Measured (e.g. 24-hour urine); an estimate is computed from the "
                                          "creatinine, age, weight and sex."),
        _lab("labs.anc"),
        _lab("labs.haemoglobin"),
        _lab("labs.platelets"),
        _lab("labs.crp"),
        _lab("labs.ferritin"),
        _lab("labs.ldh"),
        IntakeField("lvef", Kind.MEASUREMENT, help_text="By echocardiography or MUGA."),
        IntakeField("spo2_room_air", Kind.MEASUREMENT, help_text="Measured on room air (no oxygen)."),
        IntakeField("organ_function.cardiac", Kind.CHOICE),
        IntakeField("organ_function.pulmonary", Kind.CHOICE),
        IntakeField("organ_function.hepatic", Kind.CHOICE),
        IntakeField("organ_function.renal", Kind.CHOICE),
    ),
    *_section(
        PRE_INFUSION,
        IntakeField("infusion_date", Kind.DATE, planned=True),
        IntakeField("tocilizumab_doses_available", Kind.NUMBER),
        IntakeField("caregiver_confirmed", Kind.YES_NO),
        IntakeField("travel_time_minutes", Kind.NUMBER),
        IntakeField("driving_counselled", Kind.YES_NO),
        IntakeField("temperature", Kind.MEASUREMENT,
                    help_text="Enter the reading as taken; °F is converted to °C."),
        IntakeField("site_fact_accredited", Kind.YES_NO),
    ),
)
FIELDS_BY_PATH = {entry.path: entry for entry in FIELDS}
#: (phase, title, [case paths]) for the section links and pages.
SECTIONS: list[tuple[str, str, list[str]]] = [
    (phase, STAGE_LABELS[phase], [entry.path for entry in FIELDS if entry.phase == phase]) for phase in PHASES]


def section_fields(phase: str) -> list[IntakeField]:
    return [entry for entry in FIELDS if entry.phase == phase]


def field_of(path: str) -> IntakeField | None:
    """The field that records ``path`` or a part of it (``alc.unit`` -> the ALC, ``labs.ast.uln`` -> the
    AST, ``prior_drug_classes[1]`` -> the drug classes), if any."""
    path = path.split("[", 1)[0]
    while path:
        if path in FIELDS_BY_PATH:
            return FIELDS_BY_PATH[path]
        path = path.rpartition(".")[0]
    return None
