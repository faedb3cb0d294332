"""Intake forms, built from the field table (fields.py) and the case format of the rules engine
(no rule or range is repeated here).

Each section follows a phase. Form fields only convert what a browser sends into numbers,
dates and choices; whether a value is allowed is decided by the engine's own validation, whose
messages are shown beside the field they name. Minimum and maximum are copied into the HTML
inputs from the same schema, as hints for the browser only.
"""


from __future__ import annotations

import datetime
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout, Submit
from django import forms
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from ..common.display import date_text
from ..common.text import free_text_field
from ..common.vocabulary import STAGE_LABELS
from ..rules import LABELS, TREATMENT_DATES, CaseValidationError, Engine, native, plain
from . import services
from .fields import (
    FIELDS_BY_PATH,
    LAST_DOSE_WHEN,
    Kind,
    field_name,
    field_of,
    form_text,
    path_value,
    section_fields,
)
from .models import Assessment, Patient


def local_now() -> datetime.datetime:
    """Now in the programme's time zone (naive), on the programme's date: what default dates are
    taken from (today's date, the temperature's time)."""
    return datetime.datetime.combine(timezone.localdate(), timezone.localtime().time().replace(second=0,
                                                                                              microsecond=0))


#: Salt of the signed snapshot of the values a section form was built from.
BASE_SALT = "eligibility.intake.base"


#: The box that confirms driving counselling under the restriction in force (see services).
COUNSELLING_CONFIRM = "driving_counselled_confirm"
#: Beside the save button: the standing signature a save would void (``save_warning``, set by the
#: intake page from the review package's ``{% signature_warning %}``), the save still working as always.
SAVE_WARNING = HTML('{% if save_warning and not refusal %}<p class="signature-warning alert alert-warning py-1 px-2 '
                    'small mb-2" id="save-warning"><span aria-hidden="true">⚠</span> {{ save_warning }}</p>{% endif %}')


def signed_base(text: str, *, assessment_pk: int, problem: str, salt: str = BASE_SALT) -> dict[str, Any] | None:
    """The signed snapshot of what a form showed (``{"a": assessment pk, "v": values}``), or
    ``None`` when the client sent none; a snapshot tampered with, or of another assessment, is
    refused with ``problem`` (the intake and key-dates forms share it)."""
    if not text:
        return None
    try:
        base = signing.loads(text, salt=salt)
    except signing.BadSignature:
        raise ValidationError(problem, code="tampered") from None
    if not isinstance(base, dict) or base.get("a") != assessment_pk or not isinstance(base.get("v"), dict):
        raise ValidationError(problem, code="tampered")
    return base


class SectionForm(forms.Form):
    """One phase's intake fields, validated by the engine together with the rest of the case.

    The form carries the values it was built from (``base``: the section's values, the stage and
    the revision, signed so that they cannot be altered): a save applies only what the user changed
    from them, so that a value a colleague saved meanwhile is never put back by a stale form.
    """

    stage = forms.ChoiceField(label="Checklist for the stage", choices=list(STAGE_LABELS.items()),
                              help_text="The checklist is evaluated up to this stage; later checks show as pending.")
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**31 - 1)  # the column's range
    base = forms.CharField(widget=forms.HiddenInput, required=False)

    #: Its problems are listed above it (templates/patients/_problems.html), not again by crispy.
    has_problem_summary = True

    #: Hidden fields: the browser never shows them, so their problems are said in words at the top.
    HIDDEN_PROBLEM = ("The form's hidden record of the values it was opened with is damaged, so your save could "
                      "not be checked against the saved data. Your entries are kept below, beside the saved "
                      "values: check them and save again.")

    def __init__(self, *args, phase: str, engine: Engine, assessment, **kwargs):
        super().__init__(*args, **kwargs)
        self.phase = phase
        self.engine = engine
        self.assessment = assessment
        self.current = assessment.data
        self.entries = section_fields(phase)
        self.paths = [entry.path for entry in self.entries]
        #: Values removed on save because the field no longer applies: [(path, old value)].
        self.removed: list[tuple[str, Any]] = []
        #: What colleagues saved meanwhile, by form field name (set by :meth:`rebase`).
        self.notes: dict[str, str] = {}
        self._changes: dict[str, Any] | None = None
        self._defaults: dict[str, str] | None = None
        self.products = {code: f"{spec.name} ({spec.target})"
                         for code, spec in sorted(engine.ruleset.products.items())}
        layout = [Div("stage", "revision", "base", css_class="mb-3"), self._note("stage")]
        for entry in self.entries:
            self.fields.update(entry.form_fields(self.products))
            layout.append(self._layout(entry))
        confirm = self._counselling_confirmation()
        if confirm is not None:
            self.fields[COUNSELLING_CONFIRM] = confirm
            layout.append(Div(COUNSELLING_CONFIRM, css_class="counselling-confirm"))
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(Fieldset(STAGE_LABELS[phase], *layout), SAVE_WARNING,
                                    Submit("save", f"Save {STAGE_LABELS[phase].lower()}"))

    def _counselling_confirmation(self) -> forms.BooleanField | None:
        """When the driving counselling was recorded under another restriction than the one in force,
        a box to confirm the restriction in force was explained (the record then carries it)."""
        if "driving_counselled" not in self.paths or self.current.get("driving_counselled") is not True:
            return None
        told = self.current.get(services.COUNSELLED_WEEKS)
        in_force = native(self.engine.ruleset.thresholds[services.COUNSELLED_WEEKS_THRESHOLD])
        if told is None or told == in_force:
            return None
        return forms.BooleanField(
            required=False,
            label=f"I explained the restriction in force now: no driving or hazardous activities for "
                  f"{plain(in_force)} weeks after infusion",
            help_text=f"Recorded: counselled for {plain(told)} weeks. Tick once the patient has been told "
                      f"{plain(in_force)} weeks; the record then says {plain(in_force)} weeks.")

    # --- Building -------------------------------------------------------------------------------

    @staticmethod
    def _note(name: str) -> HTML:
        """Under a field: what a colleague saved meanwhile (shown after a refused save)."""
        note = "form.notes." + name
        return HTML("{% if " + note + ' %}<p class="saved-meanwhile alert alert-warning py-1 px-2 small" id="id_' + name
                    + '_saved"><span aria-hidden="true">⚠ </span>{{ ' + note + " }}</p>{% endif %}")

    def _layout(self, entry):
        """The entry's form fields with the note under its main one. An object (a measurement, a washout)
        is a fieldset named by its label, its members side by side ("Value", "Unit", "Measured on"); a
        washout's last dose shows when stopped. A field that applies only sometimes carries its
        condition for static/js/intake.js."""
        if entry.kind == Kind.MEASUREMENT:
            value, *others = entry.names
            width = "col-md-3" if len(entry.names) > 3 else "col-md-4"
            columns = [Div(value, self._note(value), css_class=f"col-6 {width}"),
                       *(Div(name, css_class=f"col-{6 if index == 0 else 12} col-sm-6 {width}")
                         for index, name in enumerate(others))]
            items = [Fieldset(entry.label, Div(*columns, css_class="row g-2"), css_class="intake-object")]
        elif entry.kind == Kind.WASHOUT:
            status, last_dose = entry.names
            items = [Fieldset(entry.label, Div(
                Div(status, self._note(status), css_class="col-md-5"),
                Div(last_dose, css_class="col-md-7 conditional-field", data_show_when=f"{status}={LAST_DOSE_WHEN}"),
                css_class="row g-2"), css_class="intake-object")]
        else:
            items = [entry.main_name, self._note(entry.main_name)]
        if not entry.when:
            return Div(*items)
        return Div(*items, css_class="conditional-field", data_show_when=entry.show_when)

    @staticmethod
    def snapshot(assessment, phase: str, now: datetime.datetime | None = None) -> str:
        """The signed record of what a form of ``phase`` is built from (``base``): the values, the
        revision, the stage and the local time its default dates were taken from (``t``)."""
        values = {entry.path: path_value(assessment.data, entry.path) for entry in section_fields(phase)}
        now = now or local_now()
        return signing.dumps({"a": assessment.pk, "r": assessment.revision, "s": assessment.stage, "v": values,
                              "t": f"{now:%Y-%m-%dT%H:%M}"}, salt=BASE_SALT, compress=True)

    @staticmethod
    def initial_from(data: dict[str, Any], phase: str, now: datetime.datetime | None = None) -> dict[str, Any]:
        """Form initial values from an assessment's stored case data, with the default dates of the
        values not yet recorded (today; the temperature's time: now, in the programme's time zone)."""
        now = now or local_now()
        initial: dict[str, Any] = {}
        for entry in section_fields(phase):
            initial.update(entry.initial(path_value(data, entry.path)))
        for entry in section_fields(phase):
            initial.update(entry.default_dates(lambda path: path_value(data, path), now))
        return initial

    @classmethod
    def initial_for(cls, assessment, phase: str) -> dict[str, Any]:
        """Everything a new form of ``phase`` shows: the values, the stage, the revision and ``base``."""
        now = local_now()
        return {**cls.initial_from(assessment.data, phase, now), "stage": assessment.stage,
                "revision": assessment.revision, "base": cls.snapshot(assessment, phase, now)}

    def default_dates(self) -> dict[str, str]:
        """The default dates the form was shown with, by field name (from its signed snapshot: the
        values and the time it was built; without one, the values as they are now)."""
        if self._defaults is not None:
            return self._defaults
        base = self.cleaned_data.get("base") if hasattr(self, "cleaned_data") else None
        values = base["v"] if base else {path: path_value(self.current, path) for path in self.paths}
        now = self._defaults_time() or local_now()
        defaults: dict[str, str] = {}
        for entry in self.entries:
            defaults.update(entry.default_dates(values.get, now))
        if hasattr(self, "cleaned_data"):
            self._defaults = defaults
        return defaults

    def _defaults_time(self) -> datetime.datetime | None:
        """The local time the form's default dates were taken from (its signed snapshot's), if known."""
        base = self.cleaned_data.get("base") if hasattr(self, "cleaned_data") else None
        if base and isinstance(base.get("t"), str):
            try:
                return datetime.datetime.fromisoformat(base["t"])
            except ValueError:
                return None
        return None

    # --- What the user changed ------------------------------------------------------------------

    def clean_base(self) -> dict[str, Any] | None:
        """The signed snapshot (``None`` when the client sent none)."""
        return signed_base(self.cleaned_data.get("base") or "", assessment_pk=self.assessment.pk,
                           problem=self.HIDDEN_PROBLEM)

    def base_values(self) -> dict[str, Any] | None:
        """The section's values the form was built from; ``None`` when unknown.

        Without a snapshot (a client that sends none), a form of the current revision was built
        from the current values; of an older revision, they are unknown.
        """
        base = self.cleaned_data.get("base")
        if base:
            return base["v"]
        if self.cleaned_data.get("revision") == self.assessment.revision and "base" not in self.errors:
            return {path: path_value(self.current, path) for path in self.paths}
        return None

    def base_stage(self) -> str | None:
        base = self.cleaned_data.get("base")
        if base:
            return base.get("s")
        return self.assessment.stage if self.base_values() is not None else None

    def _has_error(self, path: str) -> bool:
        return any(name in self._errors for name in FIELDS_BY_PATH[path].names)

    def posted(self, path: str) -> Any:
        """The case value the user entered for ``path`` (``None`` = not recorded). A date of other
        values (``date_of``) left as its default, with none of them entered, records nothing."""
        entry = FIELDS_BY_PATH[path]
        value = entry.posted(self.cleaned_data)
        if entry.date_of and value is not None and value == self.default_dates().get(entry.main_name) and all(
                self.posted(other) is None for other in entry.date_of if other in self.paths):
            return None
        return value

    def user_changed(self, path: str) -> bool:
        """Whether the user changed ``path`` from the value the form was built from (unknown: yes)."""
        base = self.base_values()
        return self._has_error(path) or base is None or self.posted(path) != base.get(path)

    def stage_value(self) -> str:
        """The stage to save: the user's choice if they changed it, else the stage as it is now."""
        stage = self.cleaned_data.get("stage")
        if stage is None or stage == self.base_stage():
            return self.assessment.stage
        return stage

    def _compute_changes(self) -> dict[str, Any]:
        """What the user changed, applied to the data as they are now (``{case key: value or None}``);
        values of fields that no longer apply are removed."""
        values = {path: self.posted(path) for path in self.paths
                  if not self._has_error(path) and self.user_changed(path)}
        flat = {path: values.get(path, path_value(self.current, path)) for path in self.paths}
        # Conditions read the case after the user's changes (their fields are in the same section).
        after = {**self.current}
        for path, value in flat.items():
            group, _, name = path.partition(".")
            if name:
                after[group] = {**(after.get(group) or {}), name: value}
            else:
                after[path] = value
        self.removed = []
        for entry in self.entries:
            if not entry.applies(after):
                path = entry.path
                saved = path_value(self.current, path)
                if saved is not None:
                    self.removed.append((path, saved))  # the history shows it removed
                if flat[path] is not None:
                    values[path] = None
                for name in entry.names:
                    self._errors.pop(name, None)  # the value is discarded: its problem does not matter
        changes: dict[str, Any] = {}
        groups: dict[str, dict[str, Any]] = {}
        for path, value in values.items():
            group, _, name = path.partition(".")
            if name:
                groups.setdefault(group, dict(self.current.get(group) or {}))[name] = value
            else:
                changes[path] = value
        for group, members in groups.items():
            kept = {name: value for name, value in members.items() if value is not None}
            changes[group] = kept or None
        if self.cleaned_data.get(COUNSELLING_CONFIRM):
            changes[COUNSELLING_CONFIRM] = True
        return changes

    def changes(self) -> dict[str, Any]:
        """What the user changed as case keys: ``{key: value or None}`` (groups merged with the data
        as they are now)."""
        if self._changes is None:
            self._changes = self._compute_changes()
        return self._changes

    def clean(self):
        cleaned = super().clean()
        for name in ("revision", "base"):
            if name in self._errors:
                del self._errors[name]
                self.add_error(None, ValidationError(self.HIDDEN_PROBLEM, code="tampered"))
        if self.has_error(NON_FIELD_ERRORS, code="tampered"):
            return cleaned
        # What cannot be sent as entered (a unit or date without its value) is said beside the field and
        # kept in it; the entry then counts as unchanged, so the engine checks the rest in the same pass.
        for entry in self.entries:
            message = entry.incomplete(self.cleaned_data, self.default_dates())
            if message and entry.main_name not in self._errors:
                self.add_error(entry.main_name, message)
        # One pass: the engine checks what did convert, and its messages join the type errors. The web
        # application evaluates as of today in the programme's time zone.
        case = {**self.current, **self.changes(), "stage": self.stage_value()}
        case = {key: value for key, value in case.items() if value is not None and key != COUNSELLING_CONFIRM}
        try:
            self.engine.parse(case, as_of=timezone.localdate())
        except CaseValidationError as exc:
            for error in exc.errors:
                self.add_case_error(error["field"], error["message"])
        return cleaned

    def add_case_error(self, path: str, message: str) -> None:
        """Show an engine message beside the field it names (a measurement's unit, or the main field
        of the entry that records the path), or above the form when it is not on this form."""
        entry = field_of(path)
        message = engine_message_words(message)
        for name in (field_name(path), entry.main_name if entry else None):
            if name in self.fields:
                if name not in self._errors:  # a field that did not convert says so already
                    self.add_error(name, message)
                return
        self.add_error(None, f"{entry.label if entry else path}: {message}")

    # --- After a refusal ------------------------------------------------------------------------

    def display(self, path: str, value: Any) -> str:
        """A case value (or the stage) in words, as the form offers it (``True`` -> ``"Yes"``)."""
        if path == "stage":
            return STAGE_LABELS.get(value, "not recorded")
        return FIELDS_BY_PATH[path].text(value, self.products)

    def rebase(self, assessment, changed_by: dict[str, tuple[str, datetime.datetime]]) -> None:
        """After a refused save: build on ``assessment`` as it is now.

        Fields the user did not change take the saved values; fields the user changed keep what
        they typed. Under every field a colleague changed, their value with who and when
        (``changed_by``: {case path or "stage": (name, time)}). The hidden revision and snapshot
        move to the current revision, so that saving again applies only what this user changed.
        """
        base = self.base_values()
        data = self.data.copy()
        now_values = {path: path_value(assessment.data, path) for path in self.paths}
        for entry in self.entries:
            path = entry.path
            saved = now_values[path]
            before = base.get(path) if base is not None else None
            if base is not None and saved == before:
                continue  # nobody else changed it
            who, when = changed_by.get(path) or (None, None)
            by = f"{who} at {timezone.localtime(when):%H:%M on %d %b %Y}" if who else "a colleague"
            note_field = entry.main_name
            if self.user_changed(path):
                if self._has_error(path) or self.posted(path) != saved:
                    self.notes[note_field] = (f"Saved by {by}: {self.display(path, saved)}. Your entry is kept "
                                              "in the field; saving again replaces the saved value.")
            else:
                for name, value in entry.initial(saved).items():
                    if isinstance(value, list):  # the boxes of a list of choices
                        data.setlist(name, value)
                    else:
                        data[name] = form_text(value)
                self.notes[note_field] = (f"Saved by {by}: {self.display(path, saved)} (it was "
                                          f"{self.display(path, before)} when you opened the form); the field "
                                          "now shows the saved value.")
        stage = self.cleaned_data.get("stage")
        if base is None or assessment.stage != self.base_stage():
            who, when = changed_by.get("stage") or (None, None)
            by = f"{who} at {timezone.localtime(when):%H:%M on %d %b %Y}" if who else "a colleague"
            if base is not None and stage == self.base_stage():
                data["stage"] = assessment.stage
                self.notes["stage"] = (f"Saved by {by}: {self.display('stage', assessment.stage)}; the field "
                                       "now shows the saved stage.")
            elif stage != assessment.stage:
                self.notes["stage"] = (f"Saved by {by}: {self.display('stage', assessment.stage)}. Your choice "
                                       "is kept; saving again replaces it.")
        data["revision"] = str(assessment.revision)
        # The default dates shown stay those of the time the form was first built (their fields keep them).
        data["base"] = self.snapshot(assessment, self.phase, self._defaults_time())
        self.data = data

    def problems(self) -> list[dict[str, str]]:
        """Every problem of the form, for the summary above it: {"anchor", "label", "message"}."""
        rows = [{"anchor": "", "label": "", "message": str(error)} for error in self.non_field_errors()]
        for bound in self.visible_fields():
            for error in bound.errors:
                rows.append({"anchor": self._anchor(bound), "label": self._summary_label(bound),
                             "message": str(error)})
        return rows

    def meanwhile(self) -> list[dict[str, str]]:
        """The colleague's values shown under the fields, for the summary: {"anchor", "label", "message"}."""
        return [{"anchor": self._anchor(self[name]), "label": self._summary_label(self[name]), "message": note}
                for name, note in self.notes.items()]

    @staticmethod
    def _anchor(bound) -> str:
        """Where the summary's link goes: the input (a group of boxes: its first box)."""
        return bound.id_for_label or f"{bound.auto_id}_0"

    @staticmethod
    def _summary_label(bound) -> str:
        """A field named in full, outside its fieldset ("Total bilirubin (unit)", not "Unit")."""
        return str(getattr(bound.field, "summary_label", bound.label))


#: The engine's message for a washout's last dose with a status other than stopped (criteria-v2 9).
ONLY_WHEN_STOPPED = "only with status stopped"


def engine_message_words(message: str) -> str:
    """An engine message about dates in the form's words: case keys by their labels, ``as_of`` as today
    (the web application evaluates as of today)."""
    if message == ONLY_WHEN_STOPPED:
        return "only when the status is “stopped”: clear it, or choose “stopped”."
    if message.startswith("must not be after as_of (") and message.endswith(")"):
        return f"must not be after today ({date_text(message[len('must not be after as_of ('):-1])})."
    for key in TREATMENT_DATES:
        if message == f"must not be before {key}":
            label = LABELS[key]
            return f"must not be before the {label[0].lower()}{label[1:]}."
    return message


class PatientIdentityForm(forms.Form):
    """Correct a patient's study identifier or initials."""

    study_id = forms.CharField(label="Study identifier", max_length=40,
                               validators=Patient._meta.get_field("study_id").validators,
                               help_text=Patient._meta.get_field("study_id").help_text
                               + " Up to 40 characters: letters, digits and . _ / -")
    initials = forms.CharField(label="Initials", max_length=8,  # "J.D.K." is written initials too
                               help_text="Up to four letters (e.g. JD or J.D.). No names, no medical record numbers.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("save", "Save the correction"))

    def clean_initials(self):
        # "g.h." and "G H" are written initials too: dots and spaces are dropped.
        initials = "".join(self.cleaned_data["initials"].upper().replace(".", " ").split())
        for validator in Patient._meta.get_field("initials").validators:
            validator(initials)
        return initials


class PatientForm(PatientIdentityForm):
    """A new patient: the study identifier and initials only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("create", "Create patient"))


class WithdrawForm(forms.Form):
    """Withdraw a patient, with the reason."""

    reason = free_text_field("Reason for withdrawal", help_text="E.g. entered by mistake (a duplicate of another "
                                                               "patient), consent withdrawn, referred elsewhere.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("withdraw", "Withdraw the patient", css_class="btn-danger"))


class EpisodeStartForm(forms.Form):
    """Start a new treatment episode: its kind, whether it starts from the previous episode's values;
    the episode that was current when the form was opened rides along (a colleague's new episode
    meanwhile is then refused, not doubled)."""

    kind = forms.TypedChoiceField(
        label="Kind of episode", widget=forms.RadioSelect,
        choices=[(Assessment.Kind.RECOLLECTION, "Re-collection (a new leukapheresis for the same treatment)"),
                 (Assessment.Kind.RETREATMENT, "Re-treatment (another or the same product again)")])
    start_from_previous = forms.TypedChoiceField(
        label="Start from the previous episode's values?", widget=forms.RadioSelect, coerce=lambda v: v == "yes",
        choices=[("yes", "Yes: copy its recorded values, each with its measurement date (old values show as old); "
                         "the treatment dates start empty"),
                 ("no", "No: start with nothing recorded")])
    current = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("start", "Start the new episode"))


class EpisodeCloseForm(forms.Form):
    """Close an episode without starting a new one: why, and a note (required for "stopped")."""

    reason = forms.ChoiceField(
        label="Why is the episode closed?", widget=forms.RadioSelect,
        choices=[(reason.value, reason.label) for reason in (Assessment.CloseReason.COMPLETED,
                                                             Assessment.CloseReason.NOT_ELIGIBLE,
                                                             Assessment.CloseReason.STOPPED)])
    note = free_text_field("Note", required=False, help_text="Required when the episode is stopped: say why.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("close", "Close this episode", css_class="btn-danger"))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("reason") == Assessment.CloseReason.STOPPED and not (cleaned.get("note") or "").strip():
            self.add_error("note", "Say why the episode is stopped.")
        return cleaned
