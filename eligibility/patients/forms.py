"""Intake forms, built from the case format of the rules engine (no rule or range is repeated here).

Each section follows a phase. Form fields only convert what a browser sends into numbers,
dates and choices; whether a value is allowed is decided by the engine's own validation, whose
messages are shown beside the field they name. Minimum and maximum are copied into the HTML
inputs from the same schema, as hints for the browser only.
"""


from __future__ import annotations

import datetime
from typing import Any

import msgspec.inspect as schema
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout, Submit
from django import forms
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from .. import rules as words
from ..common.text import FREE_TEXT_MAX
from ..rules import Case, CaseValidationError, Engine, native, plain
from . import services
from .models import Patient

#: (phase, title, [case paths]) in the order a coordinator meets them. Every case key is in one section.
SECTIONS: list[tuple[str, str, list[str]]] = [
    ("screening", "Screening", [
        "diagnosis", "disease_status", "prior_lines", "product", "target_antigen_status", "age_years", "weight_kg",
        "ecog", "karnofsky", "lansky", "life_expectancy_weeks",
        "prior_allo_hsct", "on_immunosuppression", "prior_bispecific", "prior_car_t",
        "antigen_retested_after_targeted_therapy", "prior_inotuzumab",
        "infections.bacterial", "infections.fungal", "infections.viral",
        "infections.hbv", "infections.hbv_prophylaxis", "infections.hcv", "infections.hcv_prophylaxis",
        "infections.hiv", "infections.hiv_prophylaxis",
        "marrow_blasts_pct", "mrd",
    ]),
    ("pre_apheresis", "Before leukapheresis", [
        "alc", "infections.markers_tested_on", "leukapheresis_date", "starting_material", "cryopreserved_months",
    ]),
    ("pre_lymphodepletion", "Before lymphodepletion", [
        "lymphodepletion", "organ_function.cardiac", "organ_function.pulmonary", "organ_function.hepatic",
        "organ_function.renal",
    ]),
    ("pre_infusion", "Before infusion", [
        "tocilizumab_doses_available", "caregiver_confirmed", "travel_time_minutes", "driving_counselled",
        "temperature", "site_fact_accredited",
    ]),
]
SECTION_TITLES = {phase: title for phase, title, _ in SECTIONS}

LABELS = {
    "diagnosis": "Diagnosis",
    "disease_status": "Disease status",
    "prior_lines": "Prior systemic lines of therapy",
    "product": "Product",
    "target_antigen_status": "Target antigen on the tumour (CD19, BCMA or EBV)",
    "age_years": "Age (years)",
    "weight_kg": "Weight (kg)",
    "ecog": "ECOG performance status",
    "karnofsky": "Karnofsky (%)",
    "lansky": "Lansky (%)",
    "life_expectancy_weeks": "Life expectancy (weeks)",
    "prior_allo_hsct": "Prior allogeneic HSCT",
    "on_immunosuppression": "On immunosuppression",
    "prior_bispecific": "Prior bispecific antibody (e.g. blinatumomab)",
    "prior_car_t": "Prior CAR-T",
    "antigen_retested_after_targeted_therapy": "Target re-confirmed at relapse after bispecific or CAR-T",
    "prior_inotuzumab": "Prior inotuzumab ozogamicin",
    "infections.bacterial": "Bacterial infection",
    "infections.fungal": "Fungal infection",
    "infections.viral": "Viral infection",
    "infections.hbv": "Hepatitis B",
    "infections.hbv_prophylaxis": "HBV antiviral prophylaxis in place",
    "infections.hcv": "Hepatitis C",
    "infections.hcv_prophylaxis": "HCV antiviral prophylaxis in place",
    "infections.hiv": "HIV",
    "infections.hiv_prophylaxis": "HIV antiviral prophylaxis in place",
    "marrow_blasts_pct": "Bone-marrow blasts (%)",
    "mrd": "Minimal residual disease",
    "alc": "Absolute lymphocyte count",
    "infections.markers_tested_on": "Infectious-disease markers drawn on",
    "leukapheresis_date": "Leukapheresis date (planned or done)",
    "starting_material": "Starting material",
    "cryopreserved_months": "Age of cryopreserved material (months)",
    "lymphodepletion": "Planned lymphodepletion",
    "organ_function.cardiac": "Cardiac (EKG/echo)",
    "organ_function.pulmonary": "Pulmonary (lung function)",
    "organ_function.hepatic": "Hepatic (liver tests)",
    "organ_function.renal": "Renal (kidney tests)",
    "tocilizumab_doses_available": "Tocilizumab doses on site for this patient",
    "caregiver_confirmed": "Full-time caregiver arranged",
    "travel_time_minutes": "Travel time, lodging to treatment centre (minutes)",
    "driving_counselled": "Driving restriction explained",
    "temperature": "Temperature today",
    "site_fact_accredited": "Site holds FACT-JACIE accreditation",
}
CHOICE_WORDS = {
    "diagnosis": words.DIAGNOSIS, "disease_status": words.DISEASE_STATUS, "mrd": words.MRD,
    "target_antigen_status": words.ANTIGEN_STATUS, "starting_material": words.STARTING_MATERIAL,
    "lymphodepletion": words.LYMPHODEPLETION,
}
#: Fields that apply only when another field of the same section has a value: ONE table, read by
#: the server (a value whose condition no longer holds is removed on save) and, through the
#: ``data-show-when`` attribute rendered from it, by static/js/intake.js (which hides the field).
#: Conditions: ``name=value`` (form field name and value), alternatives joined by ``|``.
SHOW_WHEN = {
    "infections.hbv_prophylaxis": "infections__hbv=positive",
    "infections.hcv_prophylaxis": "infections__hcv=positive",
    "infections.hiv_prophylaxis": "infections__hiv=positive",
    "cryopreserved_months": "starting_material=cryopreserved",
    "marrow_blasts_pct": "diagnosis=b_all",
    "mrd": "diagnosis=b_all",
    "on_immunosuppression": "prior_allo_hsct=true",
    "antigen_retested_after_targeted_therapy": "prior_bispecific=true|prior_car_t=true",
}
NOT_RECORDED = ("", "Not recorded")
YES_NO = [NOT_RECORDED, ("true", "Yes"), ("false", "No")]
MEASUREMENTS = ("alc", "temperature")

#: Dates: none before 1900; a sampling or measurement date not after today; a planned date (the
#: leukapheresis may be planned) at most this many days ahead. A product decision of the web form
#: (issue 9, item 4): a year covers any realistic work-up; the rules engine keeps its own checks.
EARLIEST_DATE = datetime.date(1900, 1, 1)
PLANNED_DATE_HORIZON_DAYS = 365
PLANNED_DATES = frozenset({"leukapheresis_date"})

#: Salt of the signed snapshot of the values a section form was built from.
BASE_SALT = "eligibility.intake.base"


def field_name(path: str) -> str:
    """The form field name of a case path (``infections.hbv`` -> ``infections__hbv``)."""
    return path.replace(".", "__")


def path_of(name: str) -> str:
    """The case path of a form field name (``alc__value`` -> ``alc``)."""
    path = name.replace("__", ".")
    group = path.split(".")[0]
    return group if group in MEASUREMENTS else path


def form_text(value: Any) -> str:
    """A case value as the browser sends it (``True`` -> ``"true"``, ``None`` -> ``""``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _conditions(path: str) -> list[tuple[str, str]]:
    """``SHOW_WHEN[path]`` as ``[(case path, value as sent by the form)]``."""
    alternatives = []
    for part in SHOW_WHEN[path].split("|"):
        name, _, value = part.partition("=")
        alternatives.append((path_of(name), value))
    return alternatives


def path_value(data: dict[str, Any], path: str) -> Any:
    """The value of a case path in case data (``infections.hbv`` reads ``data["infections"]["hbv"]``)."""
    group, _, name = path.partition(".")
    return (data.get(group) or {}).get(name) if name else data.get(path)


def applies(path: str, data: dict[str, Any]) -> bool:
    """Whether the field of ``path`` applies to the case ``data`` (always, unless SHOW_WHEN says when)."""
    if path not in SHOW_WHEN:
        return True
    return any(form_text(path_value(data, condition)) == value for condition, value in _conditions(path))


def _case_field_types() -> dict[str, schema.Type]:
    """Every case path with its msgspec type (``None`` stripped from optional ones)."""
    types: dict[str, schema.Type] = {}

    def plain(info):
        if isinstance(info, schema.UnionType):
            members = [member for member in info.types if not isinstance(member, schema.NoneType)]
            return members[0] if len(members) == 1 else info
        return info

    for field in schema.type_info(Case).fields:
        info = plain(field.type)
        if isinstance(info, schema.StructType) and field.name in ("infections", "organ_function"):
            for sub in info.fields:
                types[f"{field.name}.{sub.name}"] = plain(sub.type)
        else:
            types[field.name] = info
    return types


CASE_TYPES = _case_field_types()


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


def _date_field(path: str, label: str) -> forms.DateField:
    planned = path in PLANNED_DATES
    latest = DateWithin.latest(planned)
    if planned:
        help_text = (f"Done or planned: from 1900 up to {PLANNED_DATE_HORIZON_DAYS} days ahead "
                     f"(by {latest:%d %b %Y}).")
    else:
        help_text = f"The day it was done: today ({latest:%d %b %Y}) or earlier, not before 1900."
    return forms.DateField(label=label, required=False, help_text=help_text, validators=[DateWithin(planned=planned)],
                           widget=forms.DateInput(format="%Y-%m-%d", attrs={
                               "type": "date", "min": EARLIEST_DATE.isoformat(), "max": latest.isoformat()}))


def _form_field(path: str, info, products: dict[str, str]) -> forms.Field:
    label = LABELS[path]
    if path == "product":
        return forms.ChoiceField(label=label, required=False, choices=[NOT_RECORDED, *products.items()])
    if isinstance(info, schema.LiteralType):
        labels = CHOICE_WORDS.get(path.rsplit(".", 1)[-1]) or {}
        if path.startswith("infections.") and path.split(".")[1] in ("bacterial", "fungal", "viral"):
            labels = words.INFECTION_STATE
        elif path.startswith("infections."):
            labels = words.SEROLOGY
        elif path.startswith("organ_function."):
            labels = words.ORGAN_RESULT
        choices = [(value, labels.get(value, value.replace("_", " "))) for value in info.values]
        return forms.ChoiceField(label=label, required=False, choices=[NOT_RECORDED, *choices])
    if isinstance(info, schema.BoolType):
        return forms.TypedChoiceField(label=label, required=False, choices=YES_NO,
                                      coerce=lambda value: value == "true", empty_value=None)
    if isinstance(info, schema.IntType):
        attrs = {**_limits(info), "step": info.multiple_of or 1, "inputmode": "numeric"}
        return forms.IntegerField(label=label, required=False, widget=forms.NumberInput(attrs=attrs))
    if isinstance(info, schema.FloatType):
        attrs = {**_limits(info), "step": "any", "inputmode": "decimal"}
        return forms.FloatField(label=label, required=False, widget=forms.NumberInput(attrs=attrs))
    if isinstance(info, schema.DateType):
        return _date_field(path, label)
    raise TypeError(f"no form field for {path}: {info!r}")


def section_paths(phase: str) -> list[str]:
    return next(paths for section, _, paths in SECTIONS if section == phase)


#: The box that confirms driving counselling under the restriction in force (see services).
COUNSELLING_CONFIRM = "driving_counselled_confirm"


class SectionForm(forms.Form):
    """One phase's intake fields, validated by the engine together with the rest of the case.

    The form carries the values it was built from (``base``: the section's values, the stage and
    the revision, signed so that they cannot be altered): a save applies only what the user changed
    from them, so that a value a colleague saved meanwhile is never put back by a stale form.
    """

    stage = forms.ChoiceField(label="Checklist for the stage", choices=list(words.STAGE.items()),
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
        self.paths = section_paths(phase)
        #: Values removed on save because the field no longer applies: [(path, old value)].
        self.removed: list[tuple[str, Any]] = []
        #: What colleagues saved meanwhile, by form field name (set by :meth:`rebase`).
        self.notes: dict[str, str] = {}
        self._changes: dict[str, Any] | None = None
        products = {code: f"{spec.name} ({spec.target})" for code, spec in sorted(engine.ruleset.products.items())}
        layout = [Div("stage", "revision", "base", css_class="mb-3"), self._note("stage")]
        for path in self.paths:
            info = CASE_TYPES[path]
            if path in MEASUREMENTS:
                layout.append(self._measurement(path))
                continue
            name = field_name(path)
            self.fields[name] = _form_field(path, info, products)
            layout.append(self._conditional(path, name, self._note(name)))
        confirm = self._counselling_confirmation()
        if confirm is not None:
            self.fields[COUNSELLING_CONFIRM] = confirm
            layout.append(Div(COUNSELLING_CONFIRM, css_class="counselling-confirm"))
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(Fieldset(SECTION_TITLES[phase], *layout),
                                    Submit("save", f"Save {SECTION_TITLES[phase].lower()}"))

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

    def _conditional(self, path: str, *items):
        condition = SHOW_WHEN.get(path)
        if condition is None:
            return Div(*items)
        return Div(*items, css_class="conditional-field", data_show_when=condition)

    def _measurement(self, path: str):
        """A value with the unit the lab reported (ALC in cells/uL or x10^9/L, temperature in C or F)."""
        if path == "alc":
            units = list(words.ALC_UNIT.items())
            help_text = "1 cell/uL = 0.001 x10^9/L; enter what the lab sent and choose its unit."
        else:
            units = [("C", "°C"), ("F", "°F")]
            help_text = "Enter the reading as taken; °F is converted to °C."
        self.fields[f"{path}__value"] = forms.FloatField(
            label=LABELS[path], required=False, help_text=help_text,
            widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        )
        self.fields[f"{path}__unit"] = forms.ChoiceField(label=f"{LABELS[path]}: unit", required=False,
                                                         choices=[("", "Unit"), *units])
        return Div(Div(f"{path}__value", self._note(f"{path}__value"), css_class="col-md-8"),
                   Div(f"{path}__unit", css_class="col-md-4"), css_class="row")

    @staticmethod
    def snapshot(assessment, phase: str) -> str:
        """The signed record of what a form of ``phase`` is built from (``base``)."""
        values = {path: path_value(assessment.data, path) for path in section_paths(phase)}
        return signing.dumps({"a": assessment.pk, "r": assessment.revision, "s": assessment.stage, "v": values},
                             salt=BASE_SALT, compress=True)

    @staticmethod
    def initial_from(data: dict[str, Any], phase: str) -> dict[str, Any]:
        """Form initial values from an assessment's stored case data."""
        initial: dict[str, Any] = {}
        for path in section_paths(phase):
            if path in MEASUREMENTS:
                measurement = data.get(path) or {}
                initial[f"{path}__value"] = measurement.get("value")
                initial[f"{path}__unit"] = measurement.get("unit", "")
                continue
            value = path_value(data, path)
            if isinstance(value, bool):
                value = form_text(value)
            initial[field_name(path)] = value
        return initial

    @classmethod
    def initial_for(cls, assessment, phase: str) -> dict[str, Any]:
        """Everything a new form of ``phase`` shows: the values, the stage, the revision and ``base``."""
        return {**cls.initial_from(assessment.data, phase), "stage": assessment.stage,
                "revision": assessment.revision, "base": cls.snapshot(assessment, phase)}

    # --- What the user changed ------------------------------------------------------------------

    def clean_base(self) -> dict[str, Any] | None:
        """The signed snapshot (``None`` when the client sent none)."""
        text = self.cleaned_data.get("base") or ""
        if not text:
            return None
        try:
            base = signing.loads(text, salt=BASE_SALT)
        except signing.BadSignature:
            raise ValidationError(self.HIDDEN_PROBLEM, code="tampered") from None
        if not isinstance(base, dict) or base.get("a") != self.assessment.pk or not isinstance(base.get("v"), dict):
            raise ValidationError(self.HIDDEN_PROBLEM, code="tampered")
        return base

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

    def _names(self, path: str) -> list[str]:
        return [f"{path}__value", f"{path}__unit"] if path in MEASUREMENTS else [field_name(path)]

    def _has_error(self, path: str) -> bool:
        return any(name in self._errors for name in self._names(path))

    def posted(self, path: str) -> Any:
        """The case value the user entered for ``path`` (``None`` = not recorded)."""
        cleaned = self.cleaned_data
        if path in MEASUREMENTS:
            parts = (("value", cleaned.get(f"{path}__value")), ("unit", cleaned.get(f"{path}__unit") or None))
            return {key: part for key, part in parts if part is not None} or None
        value = cleaned.get(field_name(path))
        if value in ("", None):
            return None
        return value.isoformat() if hasattr(value, "isoformat") else value

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
        for path in self.paths:
            if not applies(path, after):
                saved = path_value(self.current, path)
                if saved is not None:
                    self.removed.append((path, saved))  # the history shows it removed
                if flat[path] is not None:
                    values[path] = None
                for name in self._names(path):
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
        # One pass: the engine checks what did convert, and its messages join the type errors.
        case = {**self.current, **self.changes(), "stage": self.stage_value()}
        case = {key: value for key, value in case.items() if value is not None and key != COUNSELLING_CONFIRM}
        try:
            self.engine.parse(case)
        except CaseValidationError as exc:
            for error in exc.errors:
                self.add_case_error(error["field"], error["message"])
        return cleaned

    def add_case_error(self, path: str, message: str) -> None:
        """Show an engine message beside the field it names (or above the form)."""
        group = path.split(".")[0]
        candidates = [field_name(path), f"{group}__value" if group in MEASUREMENTS else None]
        if path in ("alc.unit", "temperature.unit"):
            candidates.insert(0, field_name(path))
        for name in candidates:
            if name and name in self.fields:
                if name not in self._errors:  # a field that did not convert says so already
                    self.add_error(name, message)
                return
        label = LABELS.get(path, path)
        self.add_error(None, f"{label}: {message}")

    # --- After a refusal ------------------------------------------------------------------------

    def display(self, path: str, value: Any) -> str:
        """A case value in words, as the form offers it (``"positive"`` -> ``"Positive"``)."""
        if value is None:
            return "not recorded"
        if path in MEASUREMENTS:
            unit = dict(self.fields[f"{path}__unit"].choices).get(value.get("unit"), value.get("unit") or "")
            return f"{plain(value.get('value'))} {unit}".strip()
        field = self.fields.get(field_name(path)) if path != "stage" else self.fields["stage"]
        choices = dict(getattr(field, "choices", []) or [])
        if form_text(value) in choices:
            return str(choices[form_text(value)])
        if isinstance(value, float | int):
            return plain(value)
        return str(value)

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
        for path in self.paths:
            saved = now_values[path]
            before = base.get(path) if base is not None else None
            if base is not None and saved == before:
                continue  # nobody else changed it
            who, when = changed_by.get(path) or (None, None)
            by = f"{who} at {timezone.localtime(when):%H:%M on %d %b %Y}" if who else "a colleague"
            note_field = f"{path}__value" if path in MEASUREMENTS else field_name(path)
            if self.user_changed(path):
                if self._has_error(path) or self.posted(path) != saved:
                    self.notes[note_field] = (f"Saved by {by}: {self.display(path, saved)}. Your entry is kept "
                                              "in the field; saving again replaces the saved value.")
            else:
                for name, value in self.initial_from(assessment.data, self.phase).items():
                    if path_of(name) == path:
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
        data["base"] = self.snapshot(assessment, self.phase)
        self.data = data

    def problems(self) -> list[dict[str, str]]:
        """Every problem of the form, for the summary above it: {"anchor", "label", "message"}."""
        rows = [{"anchor": "", "label": "", "message": str(error)} for error in self.non_field_errors()]
        for bound in self.visible_fields():
            for error in bound.errors:
                rows.append({"anchor": bound.id_for_label, "label": str(bound.label), "message": str(error)})
        return rows

    def meanwhile(self) -> list[dict[str, str]]:
        """The colleague's values shown under the fields, for the summary: {"anchor", "label", "message"}."""
        return [{"anchor": self[name].id_for_label, "label": str(self[name].label), "message": note}
                for name, note in self.notes.items()]


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

    reason = forms.CharField(label="Reason for withdrawal", max_length=FREE_TEXT_MAX,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="E.g. entered by mistake (a duplicate of another patient), consent withdrawn, "
                                       f"referred elsewhere. At most {FREE_TEXT_MAX:,} characters.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("withdraw", "Withdraw the patient", css_class="btn-danger"))
