"""The key-dates form of an episode (issue 14, item 2): consent, screening, leukapheresis (planned or
done), product received, lymphodepletion start (planned or started), infusion (day 0, planned or
given). One form, one save: the treatment dates are case keys the engine reads (validated by it, its
messages beside the field they name), the others are the episode's own fields (``consent_on``,
``screening_on``, the ``*_done`` flags); ``services.assessment_update`` writes both under one lock
and one revision.
"""

from __future__ import annotations

import datetime
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout, Submit
from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils import timezone

from ..rules import LABELS, CaseValidationError, Engine
from .episodes import KEY_DATES, day0, day_text
from .fields import EARLIEST_DATE, PLANNED_DATE_HORIZON_DAYS, DateWithin
from .forms import engine_message_words, signed_base

BASE_SALT = "eligibility.keydates.base"
#: The words of each done flag beside its date (whole, so that a screen reader's list of fields tells them apart).
DONE_LABELS = {"leukapheresis_done": "Leukapheresis done", "lymphodepletion_done": "Lymphodepletion started",
               "infusion_done": "Infusion given"}
#: Dates that record what has happened only (not after today); the others may be planned.
DONE_ONLY = {"consent_on", "product_received_on"}


def date_name(spec) -> str:
    """The form field (and case key or episode field) holding a key date."""
    return spec.case_key or spec.field


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return "" if value is None else str(value)


class KeyDatesForm(forms.Form):
    """The key dates of the current episode, with the planned/done flags, and the values it was built
    from (signed: a refused save keeps the user's entries and takes the saved values elsewhere)."""

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**31 - 1)
    base = forms.CharField(widget=forms.HiddenInput, required=False)

    has_problem_summary = True
    HIDDEN_PROBLEM = ("The page's hidden record of the dates it was opened with is damaged. Your entries are kept "
                      "below: check them and save again.")

    def __init__(self, *args, assessment, engine: Engine, read_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.assessment = assessment
        self.engine = engine
        #: What a colleague saved meanwhile, by field name (set by :meth:`rebase`).
        self.notes: dict[str, str] = {}
        zero = day0(assessment)
        rows = []
        for spec in KEY_DATES:
            name = date_name(spec)
            planned = name not in DONE_ONLY
            latest = DateWithin.latest(planned)
            if planned:
                help_text = (f"Planned or done: up to {PLANNED_DATE_HORIZON_DAYS} days ahead (by "
                             f"{latest:%Y-%m-%d}).")
            else:
                help_text = f"When it happened: today ({latest:%Y-%m-%d}) or earlier."
            saved = (assessment.data or {}).get(spec.case_key) if spec.case_key else getattr(assessment, spec.field)
            if zero is not None and saved:
                saved_day = saved if isinstance(saved, datetime.date) else datetime.date.fromisoformat(str(saved))
                help_text = f"Recorded: {saved_day.isoformat()} ({day_text(saved_day, zero)}). {help_text}"
            self.fields[name] = forms.DateField(
                label=spec.label, required=False, help_text=help_text, validators=[DateWithin(planned=planned)],
                widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date", "min": EARLIEST_DATE.isoformat(),
                                                                 "max": latest.isoformat()}))
            note = HTML("{% if form.notes." + name + ' %}<p class="saved-meanwhile alert alert-warning py-1 px-2 '
                        'small" id="id_' + name + '_saved"><span aria-hidden="true">⚠ </span>{{ form.notes.' + name
                        + " }}</p>{% endif %}")
            columns = [Div(name, note, css_class="col-md-6")]
            if spec.done_field:
                self.fields[spec.done_field] = forms.BooleanField(
                    label=DONE_LABELS[spec.done_field], required=False,
                    help_text="Tick once it has happened (not for a date still ahead).")
                columns.append(Div(spec.done_field, css_class="col-md-6 pt-md-4"))
            rows.append(Div(*columns, css_class="row g-2 key-date"))
        if read_only:
            for field in self.fields.values():
                field.disabled = True
        self.helper = FormHelper()
        self.helper.form_tag = False
        layout = [Fieldset("Key dates of the episode", "revision", "base", *rows)]
        if not read_only:
            layout.append(Submit("save", "Save the key dates"))
        self.helper.layout = Layout(*layout)

    # --- Building -------------------------------------------------------------------------------

    @staticmethod
    def values_of(assessment) -> dict[str, str]:
        """The form's values from the episode: dates ``YYYY-MM-DD``, flags ``"true"`` or ``""``."""
        values = {}
        for spec in KEY_DATES:
            name = date_name(spec)
            values[name] = _text((assessment.data or {}).get(name) if spec.case_key else getattr(assessment, name))
            if spec.done_field:
                values[spec.done_field] = _text(getattr(assessment, spec.done_field))
        return values

    @classmethod
    def snapshot(cls, assessment) -> str:
        return signing.dumps({"a": assessment.pk, "r": assessment.revision, "v": cls.values_of(assessment)},
                             salt=BASE_SALT, compress=True)

    @classmethod
    def initial_for(cls, assessment) -> dict[str, Any]:
        values = cls.values_of(assessment)
        initial: dict[str, Any] = {name: (value == "true") if name in DONE_LABELS else value
                                   for name, value in values.items()}
        return {**initial, "revision": assessment.revision, "base": cls.snapshot(assessment)}

    # --- Checking -------------------------------------------------------------------------------

    def clean_base(self) -> dict[str, Any] | None:
        return signed_base(self.cleaned_data.get("base") or "", assessment_pk=self.assessment.pk,
                           problem=self.HIDDEN_PROBLEM, salt=BASE_SALT)

    def changes(self) -> dict[str, Any]:
        """The treatment dates as case keys (``None``: not recorded)."""
        changes = {}
        for spec in KEY_DATES:
            if spec.case_key:
                value = self.cleaned_data.get(spec.case_key)
                changes[spec.case_key] = value.isoformat() if value else None
        return changes

    def episode_values(self) -> dict[str, Any]:
        """The episode's own fields: ``consent_on``, ``screening_on`` and the done flags."""
        values: dict[str, Any] = {}
        for spec in KEY_DATES:
            if spec.field:
                values[spec.field] = self.cleaned_data.get(spec.field)
            if spec.done_field:
                values[spec.done_field] = bool(self.cleaned_data.get(spec.done_field))
        return values

    def clean(self):
        cleaned = super().clean()
        for name in ("revision", "base"):
            if name in self._errors:
                del self._errors[name]
                self.add_error(None, ValidationError(self.HIDDEN_PROBLEM, code="tampered"))
        today = timezone.localdate()
        for spec in KEY_DATES:
            name = date_name(spec)
            if not spec.done_field or name in self._errors or not cleaned.get(spec.done_field):
                continue
            word = DONE_LABELS[spec.done_field].split()[-1]  # "done", "started", "given"
            on = cleaned.get(name)
            if on is None:
                self.add_error(name, f"Enter the date, or untick “{DONE_LABELS[spec.done_field]}”.")
            elif on > today:
                self.add_error(name, f"is marked {word}: it cannot be after today ({today.isoformat()}). Enter the "
                                     f"date it happened, or untick “{DONE_LABELS[spec.done_field]}” for a "
                                     "planned date.")
        # One pass: the engine checks the treatment dates with the rest of the case (their order, a
        # product received not after today), its messages beside the field they name.
        case = {**(self.assessment.data or {}), **self.changes(), "stage": self.assessment.stage}
        case = {key: value for key, value in case.items() if value is not None}
        try:
            self.engine.parse(case, as_of=today)
        except CaseValidationError as exc:
            for error in exc.errors:
                self.add_case_error(error["field"], error["message"])
        return cleaned

    def add_case_error(self, path: str, message: str) -> None:
        message = engine_message_words(message)
        if path in self.fields:
            if path not in self._errors:
                self.add_error(path, message)
            return
        self.add_error(None, f"{LABELS.get(path, path)}: {message}")

    # --- After a refusal ------------------------------------------------------------------------

    def rebase(self, assessment) -> None:
        """After a refused save (a colleague saved meanwhile): what the user changed is kept; what they
        did not takes the saved value; under each field the colleague changed, their value. The hidden
        revision and snapshot move to the saved revision, so that saving again applies the entries."""
        base = (self.cleaned_data.get("base") or {}).get("v")
        saved = self.values_of(assessment)
        data = self.data.copy()
        for name, now in saved.items():
            before = base.get(name) if base is not None else None
            if base is not None and now == before:
                continue
            posted = data.get(name, "") or ""
            shown = self._words(name, now)
            if base is not None and posted == (before or ""):
                data[name] = now
                self.notes[name] = (f"Saved by a colleague: {shown} (it was {self._words(name, before)} when you "
                                    "opened the page); the field now shows the saved value.")
            elif posted != now:
                self.notes[name] = f"Saved by a colleague: {shown}. Your entry is kept; saving again replaces it."
        data["revision"] = str(assessment.revision)
        data["base"] = self.snapshot(assessment)
        self.data = data

    @staticmethod
    def _words(name: str, value: str | None) -> str:
        if name in DONE_LABELS:
            return "yes" if value == "true" else "no"
        return value or "not recorded"

    def problems(self) -> list[dict[str, str]]:
        rows = [{"anchor": "", "label": "", "message": str(error)} for error in self.non_field_errors()]
        for bound in self.visible_fields():
            for error in bound.errors:
                rows.append({"anchor": bound.id_for_label, "label": str(getattr(bound.field, "summary_label",
                                                                                bound.label)),
                             "message": str(error)})
        return rows

    def meanwhile(self) -> list[dict[str, str]]:
        return [{"anchor": self[name].id_for_label, "label": str(self[name].label), "message": note}
                for name, note in self.notes.items()]


__all__ = ["DONE_LABELS", "KeyDatesForm"]
