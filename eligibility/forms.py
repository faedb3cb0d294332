"""Intake forms, built from the case format of the rules engine (no rule or range is repeated here).

Each section follows a phase. Form fields only convert what a browser sends into numbers,
dates and choices; whether a value is allowed is decided by the engine's own validation, whose
messages are shown beside the field they name. Minimum and maximum are copied into the HTML
inputs from the same schema, as hints for the browser only.
"""

from __future__ import annotations

from typing import Any

import msgspec.inspect as schema
from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout, Submit
from django import forms

from .models import Disposition, Patient
from .rules import CaseValidationError, Engine
from .rules import vocabulary as words
from .rules.case import Case
from .rules.statuses import OVERALL_LABELS

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
#: Fields shown only when another field has a value (hidden by static/js/intake.js; the server
#: validates them all the same, and without JavaScript they are all shown).
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


def field_name(path: str) -> str:
    """The form field name of a case path (``infections.hbv`` -> ``infections__hbv``)."""
    return path.replace(".", "__")


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
        return forms.DateField(label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}))
    raise TypeError(f"no form field for {path}: {info!r}")


class SectionForm(forms.Form):
    """One phase's intake fields, validated by the engine together with the rest of the case."""

    stage = forms.ChoiceField(label="Checklist for the stage", choices=list(words.STAGE.items()),
                              help_text="The checklist is evaluated up to this stage; later checks show as pending.")
    revision = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, phase: str, engine: Engine, data_before: dict[str, Any], **kwargs):
        super().__init__(*args, **kwargs)
        self.phase = phase
        self.engine = engine
        self.data_before = data_before
        self.paths = next(paths for section, _, paths in SECTIONS if section == phase)
        products = {code: f"{spec.name} ({spec.target})" for code, spec in sorted(engine.ruleset.products.items())}
        layout = [Div("stage", "revision", css_class="mb-3")]
        for path in self.paths:
            info = CASE_TYPES[path]
            if path in ("alc", "temperature"):
                layout.append(self._measurement(path))
                continue
            name = field_name(path)
            self.fields[name] = _form_field(path, info, products)
            layout.append(self._conditional(path, name))
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(Fieldset(SECTION_TITLES[phase], *layout),
                                    Submit("save", f"Save {SECTION_TITLES[phase].lower()}"))

    def _conditional(self, path: str, *names: str):
        condition = SHOW_WHEN.get(path)
        if condition is None:
            return Div(*names)
        return Div(*names, css_class="conditional-field", data_show_when=condition)

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
        return Div(Div(f"{path}__value", css_class="col-md-8"), Div(f"{path}__unit", css_class="col-md-4"),
                   css_class="row")

    @staticmethod
    def initial_from(data: dict[str, Any], phase: str) -> dict[str, Any]:
        """Form initial values from an assessment's stored case data."""
        initial: dict[str, Any] = {}
        paths = next(paths for section, _, paths in SECTIONS if section == phase)
        for path in paths:
            if path in ("alc", "temperature"):
                measurement = data.get(path) or {}
                initial[f"{path}__value"] = measurement.get("value")
                initial[f"{path}__unit"] = measurement.get("unit", "")
                continue
            group, _, name = path.partition(".")
            value = (data.get(group) or {}).get(name) if name else data.get(path)
            if isinstance(value, bool):
                value = "true" if value else "false"
            initial[field_name(path)] = value
        return initial

    def changes(self) -> dict[str, Any]:
        """This section's values as case keys: ``{key: value or None}`` (groups merged with the rest)."""
        cleaned = self.cleaned_data
        changes: dict[str, Any] = {}
        groups: dict[str, dict[str, Any]] = {}
        for path in self.paths:
            if path in ("alc", "temperature"):
                value, unit = cleaned.get(f"{path}__value"), cleaned.get(f"{path}__unit") or None
                measurement = {key: part for key, part in (("value", value), ("unit", unit)) if part is not None}
                changes[path] = measurement or None
                continue
            value = cleaned.get(field_name(path))
            if value in ("", None):
                value = None
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            group, _, name = path.partition(".")
            if name:
                groups.setdefault(group, dict(self.data_before.get(group) or {}))[name] = value
            else:
                changes[path] = value
        for group, values in groups.items():
            kept = {name: value for name, value in values.items() if value is not None}
            changes[group] = kept or None
        return changes

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        case = {**self.data_before, **self.changes(), "stage": cleaned.get("stage")}
        case = {key: value for key, value in case.items() if value is not None}
        try:
            self.engine.parse(case)
        except CaseValidationError as exc:
            for error in exc.errors:
                self._add_case_error(error["field"], error["message"])
        return cleaned

    def _add_case_error(self, path: str, message: str) -> None:
        """Show an engine message beside the field it names (or above the form)."""
        candidates = [field_name(path), f"{path.split('.')[0]}__value" if path.split(".")[0] in ("alc", "temperature")
                      else None]
        if path in ("alc.unit", "temperature.unit"):
            candidates.insert(0, field_name(path))
        for name in candidates:
            if name and name in self.fields:
                self.add_error(name, message)
                return
        label = LABELS.get(path, path)
        self.add_error(None, f"{label}: {message}")


class FilterForm(forms.Form):
    """Worklist filters (GET): overall result and stage."""

    result = forms.ChoiceField(label="Overall result", required=False,
                               choices=[("", "Any result"), *OVERALL_LABELS.items()])
    stage = forms.ChoiceField(label="Stage", required=False, choices=[("", "Any stage"), *words.STAGE.items()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_class = "row g-2 align-items-end"
        self.helper.layout = Layout(
            Div("result", css_class="col-md-4"), Div("stage", css_class="col-md-4"),
            Div(HTML('<button type="submit" class="btn btn-outline-primary mb-3">Filter</button>'),
                css_class="col-md-2"),
        )


class SearchForm(forms.Form):
    """Search by study identifier (POST: the term is kept in the session, not in the URL)."""

    search = forms.CharField(label="Study identifier", required=False, max_length=40, strip=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_class = "row g-2 align-items-end"
        self.helper.layout = Layout(
            Div("search", css_class="col-md-6"),
            Div(HTML('<button type="submit" class="btn btn-outline-primary mb-3">Search</button>'),
                css_class="col-md-2"),
        )


DECISION_CHOICES = {
    "flag": [(Disposition.Kind.ACKNOWLEDGED, "Acknowledge")],
    "blocking": [(Disposition.Kind.ACCEPTED, "Accept the finding"), (Disposition.Kind.OVERRIDDEN, "Override")],
}


class DispositionForm(forms.Form):
    """A physician's decision on one item (prefixed with the rule code: one form per item).

    A flag is acknowledged, with an optional note; a blocking item is accepted (a note is optional)
    or overridden with a reason and a justification (both required).
    """

    kind = forms.ChoiceField(label="Decision", widget=forms.RadioSelect)
    reason_code = forms.ChoiceField(label="Reason for the override", required=False,
                                    choices=[("", "Choose a reason"), *Disposition.Reason.choices])
    justification = forms.CharField(
        label="Justification", required=False, max_length=Disposition.JUSTIFICATION_MAX,
        help_text=f"Required for an override; at most {Disposition.JUSTIFICATION_MAX:,} characters.",
        widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, status: str = "flag", **kwargs):
        super().__init__(*args, **kwargs)
        self.status = status
        self.fields["kind"].choices = DECISION_CHOICES["flag" if status == "flag" else "blocking"]
        if status != "flag":
            self.fields["kind"].help_text = ("Accept: the patient does not go on because of this finding. Override: "
                                             "the patient goes on despite it (reason and justification required).")
        if status == "flag":
            self.fields["kind"].initial = Disposition.Kind.ACKNOWLEDGED
            del self.fields["reason_code"]
            self.fields["justification"].label = "Note (optional)"
            self.fields["justification"].help_text = f"At most {Disposition.JUSTIFICATION_MAX:,} characters."
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(*self.fields, Submit("record", "Record decision", css_class="btn-sm"))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Disposition.Kind.OVERRIDDEN:
            if not cleaned.get("reason_code"):
                self.add_error("reason_code", "An override needs a reason: choose one.")
            if not (cleaned.get("justification") or "").strip() and "justification" not in self.errors:
                self.add_error("justification", "An override needs a justification: write why the finding does "
                                                "not stop the patient.")
        return cleaned


class SignOffForm(forms.Form):
    """Re-enter the password to sign (the signature's meaning is shown beside it)."""

    password = forms.CharField(label="Your password (to sign)", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("password", Submit("sign", "Sign"))


class ReopenForm(forms.Form):
    """A physician reopens a work-up closed as not eligible: why."""

    justification = forms.CharField(label="Why the work-up is reopened", max_length=Disposition.JUSTIFICATION_MAX,
                                    widget=forms.Textarea(attrs={"rows": 2}),
                                    help_text=f"At most {Disposition.JUSTIFICATION_MAX:,} characters.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("justification", Submit("reopen", "Reopen the work-up", css_class="btn-secondary"))


class PatientIdentityForm(forms.Form):
    """Correct a patient's study identifier or initials."""

    study_id = forms.CharField(label="Study identifier", max_length=40,
                               validators=Patient._meta.get_field("study_id").validators,
                               help_text=Patient._meta.get_field("study_id").help_text)
    initials = forms.CharField(label="Initials", max_length=4,
                               help_text="Up to four capital letters. No names, no medical record numbers.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("save", "Save the correction"))

    def clean_initials(self):
        initials = self.cleaned_data["initials"].upper()
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

    reason = forms.CharField(label="Reason for withdrawal", max_length=Disposition.JUSTIFICATION_MAX,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="E.g. entered by mistake (a duplicate of another patient), consent withdrawn, "
                                       f"referred elsewhere. At most {Disposition.JUSTIFICATION_MAX:,} characters.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("withdraw", "Withdraw the patient", css_class="btn-danger"))


class ReviewKeepForm(forms.Form):
    """Keep a signed checklist that a new rule-set version would change: say why."""

    justification = forms.CharField(label="Why the signed checklist stands", max_length=Disposition.JUSTIFICATION_MAX,
                                    widget=forms.Textarea(attrs={"rows": 2}),
                                    help_text=f"At most {Disposition.JUSTIFICATION_MAX:,} characters.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("justification", StrictButton("Keep the signed checklist", type="submit",
                                                                  name="keep", css_class="btn-secondary"))
