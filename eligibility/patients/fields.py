"""The intake form's field table: one entry per case path, in the order a coordinator meets them.

Everything the intake screens know of a field is read from its entry: the section it is in, its
label and the words of its choices (the engine's vocabulary, ``rules/vocabulary.py``, which every
screen showing a recorded value uses too), when it applies (the server's check on save, and the
``data-show-when`` attribute static/js/intake.js reads), how it becomes form fields (a value with
its unit is two), its problems' place and its label in the history. What a value may be (types,
ranges, units) comes from the engine's case schema, never from here.
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

from ..common.vocabulary import STAGE_LABELS, unit_text
from ..rules import (
    CHOICES,
    LABELS,
    PHASES,
    PRE_APHERESIS,
    PRE_INFUSION,
    PRE_LYMPHODEPLETION,
    SCREENING,
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
    MEASUREMENT = "measurement"  # a value with the unit it was taken in (the schema lists the units)


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


def path_value(data: dict[str, Any], path: str) -> Any:
    """The value of a case path in case data (``infections.hbv`` reads ``data["infections"]["hbv"]``)."""
    group, _, name = path.partition(".")
    return (data.get(group) or {}).get(name) if name else data.get(path)


CASE_TYPES = case_field_types()


def _units(info) -> tuple[str, ...]:
    """The units a measurement of the case schema takes: a ``unit`` field's values (ALC), or the
    tags of a union of structs tagged by unit (temperature)."""
    if isinstance(info, schema.StructType):
        unit = next(member for member in info.fields if member.name == "unit")
        return unit.type.values
    return tuple(member.tag for member in info.types)


def _limits(info) -> dict[str, Any]:
    attrs = {}
    if getattr(info, "ge", None) is not None:
        attrs["min"] = info.ge
    if getattr(info, "le", None) is not None:
        attrs["max"] = info.le
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
    def names(self) -> tuple[str, ...]:
        """Its form field names: a measurement's value and unit, else one."""
        name = field_name(self.path)
        return (f"{name}__value", f"{name}__unit") if self.kind == Kind.MEASUREMENT else (name,)

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
        if self.kind == Kind.MEASUREMENT:
            value = value or {}
            return {self.names[0]: value.get("value"), self.names[1]: value.get("unit", "")}
        return {self.main_name: form_text(value) if isinstance(value, bool) else value}

    def posted(self, cleaned: dict[str, Any]) -> Any:
        """The case value the user entered (``None`` = not recorded)."""
        if self.kind == Kind.MEASUREMENT:
            parts = (("value", cleaned.get(self.names[0])), ("unit", cleaned.get(self.names[1]) or None))
            return {key: part for key, part in parts if part is not None} or None
        value = cleaned.get(self.main_name)
        if value in ("", None):
            return None
        return value.isoformat() if hasattr(value, "isoformat") else value

    def choices(self, products: Mapping[str, str]) -> list[tuple[str, str]]:
        """The values offered, in words (choices, products, yes/no, units)."""
        if self.kind == Kind.CHOICE:
            return [(value, self.words.get(value, value.replace("_", " "))) for value in self.info.values]
        if self.kind == Kind.PRODUCT:
            return list(products.items())
        if self.kind == Kind.YES_NO:
            return YES_NO[1:]
        if self.kind == Kind.MEASUREMENT:
            return [(unit, unit_text(unit)) for unit in _units(self.info)]
        return []

    def text(self, value: Any, products: Mapping[str, str]) -> str:
        """A stored value in words, as the form offers it (``True`` -> ``"Yes"``)."""
        if value is None:
            return "not recorded"
        if self.kind == Kind.MEASUREMENT:
            return f"{plain(value.get('value'))} {unit_text(value.get('unit'))}".strip()
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
        elif self.kind == Kind.MEASUREMENT and isinstance(info, schema.StructType | schema.UnionType):
            value, unit = self.names
            return {
                value: forms.FloatField(label=label, required=False, help_text=self.help_text,
                                        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"})),
                unit: forms.ChoiceField(label=f"{label}: unit", required=False,
                                        choices=[("", "Unit"), *self.choices(products)]),
            }
        else:
            raise TypeError(f"no {self.kind} form field for {self.path}: {info!r}")
        return {self.main_name: made}

    def _date_field(self) -> forms.DateField:
        latest = DateWithin.latest(self.planned)
        if self.planned:
            help_text = (f"Done or planned: from 1900 up to {PLANNED_DATE_HORIZON_DAYS} days ahead "
                         f"(by {latest:%d %b %Y}).")
        else:
            help_text = f"The day it was done: today ({latest:%d %b %Y}) or earlier, not before 1900."
        return forms.DateField(label=self.label, required=False, help_text=help_text,
                               validators=[DateWithin(planned=self.planned)],
                               widget=forms.DateInput(format="%Y-%m-%d", attrs={
                                   "type": "date", "min": EARLIEST_DATE.isoformat(), "max": latest.isoformat()}))


def _section(phase: str, *entries: IntakeField) -> tuple[IntakeField, ...]:
    return tuple(replace(entry, phase=phase) for entry in entries)


B_ALL = (("diagnosis", "b_all"),)

#: Every case path a coordinator records, by section (phase) in the order they meet them.
FIELDS: tuple[IntakeField, ...] = (
    *_section(
        SCREENING,
        IntakeField("diagnosis", Kind.CHOICE),
        IntakeField("disease_status", Kind.CHOICE),
        IntakeField("prior_lines", Kind.NUMBER),
        IntakeField("product", Kind.PRODUCT),
        IntakeField("target_antigen_status", Kind.CHOICE),
        IntakeField("age_years", Kind.NUMBER),
        IntakeField("weight_kg", Kind.NUMBER),
        IntakeField("ecog", Kind.NUMBER),
        IntakeField("karnofsky", Kind.NUMBER),
        IntakeField("lansky", Kind.NUMBER),
        IntakeField("life_expectancy_weeks", Kind.NUMBER),
        IntakeField("prior_allo_hsct", Kind.YES_NO),
        IntakeField("on_immunosuppression", Kind.YES_NO, when=(("prior_allo_hsct", "true"),)),
        IntakeField("prior_bispecific", Kind.YES_NO),
        IntakeField("prior_car_t", Kind.YES_NO),
        IntakeField("antigen_retested_after_targeted_therapy", Kind.YES_NO,
                    when=(("prior_bispecific", "true"), ("prior_car_t", "true"))),
        IntakeField("prior_inotuzumab", Kind.YES_NO),
        IntakeField("infections.bacterial", Kind.CHOICE),
        IntakeField("infections.fungal", Kind.CHOICE),
        IntakeField("infections.viral", Kind.CHOICE),
        IntakeField("infections.hbv", Kind.CHOICE),
        IntakeField("infections.hbv_prophylaxis", Kind.YES_NO, when=(("infections.hbv", "positive"),)),
        IntakeField("infections.hcv", Kind.CHOICE),
        IntakeField("infections.hcv_prophylaxis", Kind.YES_NO, when=(("infections.hcv", "positive"),)),
        IntakeField("infections.hiv", Kind.CHOICE),
        IntakeField("infections.hiv_prophylaxis", Kind.YES_NO, when=(("infections.hiv", "positive"),)),
        IntakeField("marrow_blasts_pct", Kind.NUMBER, when=B_ALL),
        IntakeField("mrd", Kind.CHOICE, when=B_ALL),
    ),
    *_section(
        PRE_APHERESIS,
        IntakeField("alc", Kind.MEASUREMENT,
                    help_text="1 cell/µL = 0.001 ×10⁹/L; enter what the lab sent and choose its unit."),
        IntakeField("infections.markers_tested_on", Kind.DATE),
        IntakeField("leukapheresis_date", Kind.DATE, planned=True),
        IntakeField("starting_material", Kind.CHOICE),
        IntakeField("cryopreserved_months", Kind.NUMBER, when=(("starting_material", "cryopreserved"),)),
    ),
    *_section(
        PRE_LYMPHODEPLETION,
        IntakeField("lymphodepletion", Kind.CHOICE),
        IntakeField("organ_function.cardiac", Kind.CHOICE),
        IntakeField("organ_function.pulmonary", Kind.CHOICE),
        IntakeField("organ_function.hepatic", Kind.CHOICE),
        IntakeField("organ_function.renal", Kind.CHOICE),
    ),
    *_section(
        PRE_INFUSION,
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
    """The field that records ``path`` or a part of it (``alc.unit`` -> the ALC), if any."""
    return FIELDS_BY_PATH.get(path) or FIELDS_BY_PATH.get(path.split(".")[0])
