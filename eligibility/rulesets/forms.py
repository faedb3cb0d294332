"""Rule-set forms: every threshold of a draft, a product of its catalogue, a new product, the
draft's name and change note, and what a confirmation (or an approval) posts. The allowed values
are checked by the services (the rule data's own validation)."""

from __future__ import annotations

import re
from json import dumps, loads

from django import forms
from django.core.exceptions import ValidationError

from ..common.display import label_with_unit
from ..common.vocabulary import unit_text
from ..rules import CATALOGUE, OPTIONAL_GROUPS, PRESETS, THRESHOLDS, THRESHOLDS_BY_KEY, plain
from .models import (
    DIAGNOSIS_CHOICES,
    DRUG_CLASS_CHOICES,
    FIRST_LINE_RESPONSE_CHOICES,
    PATHWAY_DISEASE_STATUS_CHOICES,
    RULE_CHOICES,
    Product,
    RuleSet,
)
from .presenters import RULE_SOURCES, source_departure


class FiniteDecimalField(forms.DecimalField):
    """A decimal that is a number: "NaN", "sNaN" and "Infinity" do not convert (Django converts them
    and leaves them to validation, but comparing a signalling NaN, as ``has_changed`` does with the
    hidden copy of the value shown, raises InvalidOperation: a 500 found by fuzzing)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and not value.is_finite():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return value


class ThresholdsForm(forms.Form):
    """Every threshold a draft holds (empty: to be entered, allowed in a draft); the allowed values
    are checked by the services (the rule data's own validation)."""

    def __init__(self, *args, values, enabled_rules, **kwargs):
        super().__init__(*args, **kwargs)
        self.values = values
        self.enabled_rules = set(enabled_rules)
        for spec in THRESHOLDS:
            if spec.key not in values:
                continue
            empty = values[spec.key] is None
            self.fields[spec.key] = FiniteDecimalField(
                label=label_with_unit(spec.label, unit_text(spec.unit)),
                initial=None if empty else plain(values[spec.key]),
                required=False, max_digits=10, decimal_places=3, show_hidden_initial=True,
                help_text=(("To be entered: enter a value before previewing or publishing. " if empty else "")
                           + f"Allowed {plain(spec.minimum)} to {plain(spec.maximum)}"
                           + (", a whole number" if spec.kind == "count" else "")
                           + (f". Catalogue default: {_default_text(spec)}" if spec.default_source else "")),
            )
        self.departures = {key: source_departure(key, value) for key, value in values.items()
                           if key in self.fields}

    def to_be_entered(self) -> list[str]:
        """The labels of the thresholds held without a value."""
        return [self.fields[key].label for key, value in self.values.items() if value is None and key in self.fields]

    def groups(self) -> list[dict]:
        """The fields by the rule that reads them, in catalogue order, with the rule's sources, whether
        the rule is enabled (a disabled rule's thresholds are kept but not read), and the optional
        group each field belongs to; beside a saved value that departs from the source documents,
        their value."""
        groups = []
        for entry in CATALOGUE:
            fields = [(self[spec.key], self.departures.get(spec.key), spec.group) for spec in THRESHOLDS
                      if spec.rule == entry.code and spec.key in self.fields]
            if fields:
                read = any(code in self.enabled_rules for code in THRESHOLDS_BY_KEY[fields[0][0].name].rules)
                groups.append({"title": f"{entry.number}. {entry.title}", "source": RULE_SOURCES.get(entry.code, ""),
                               "read": read, "fields": fields})
        return groups


def _default_text(spec) -> str:
    value = "none (to be entered)" if spec.default is None else plain(spec.default)
    return f"{value} ({spec.default_source})"


class RuleForm(forms.Form):
    """Enable or disable one rule of a draft (the button posts the code and the wanted state)."""

    code = forms.ChoiceField(choices=RULE_CHOICES, widget=forms.HiddenInput)
    enabled = forms.TypedChoiceField(choices=[("1", "enable"), ("0", "disable")], coerce=lambda value: value == "1",
                                     widget=forms.HiddenInput)


class GroupForm(forms.Form):
    """Add or remove one optional group of a draft."""

    group = forms.ChoiceField(choices=[(group, group) for group in OPTIONAL_GROUPS], widget=forms.HiddenInput)
    held = forms.TypedChoiceField(choices=[("1", "add"), ("0", "remove")], coerce=lambda value: value == "1",
                                  widget=forms.HiddenInput)


class ProductForm(forms.ModelForm):
    """One product's own fields (prefixed with its code: one form per product); its indication
    entries are edited beside it (:class:`IndicationsEditor`)."""

    class Meta:
        model = Product
        fields = ["name", "target", "accepts_cryopreserved", "investigational"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # editing: each field carries the value it was shown with
            for field in self.fields.values():
                field.show_hidden_initial = True


class NewProductForm(ProductForm):
    """A product to add to a draft's catalogue: its code as cases name it, and its values."""

    code = forms.CharField(help_text="As cases name it: lower-case letters, digits and single underscores, "
                                     "e.g. tisagenlecleucel.")
    field_order = ["code", *ProductForm.Meta.fields]
    # The code is checked by the service (with every other value, so all problems show at once).


class IndicationForm(forms.Form):
    """One indication entry of a product: the diagnosis, its age limits and the source."""

    diagnosis = forms.ChoiceField(choices=[("", "Choose a diagnosis"), *DIAGNOSIS_CHOICES], required=False)
    min_age_years = FiniteDecimalField(label="Minimum age (years)", required=False, max_digits=5, decimal_places=1,
                                       help_text="Empty: no lower limit. Inclusive.")
    max_age_years = FiniteDecimalField(label="Maximum age (years)", required=False, max_digits=5, decimal_places=1,
                                       help_text="Empty: no upper limit. Inclusive.")
    source = forms.CharField(label="Source (citation)", required=False, max_length=500)
    remove = forms.BooleanField(label="Remove this indication when saving", required=False)


class PathwayForm(forms.Form):
    """One pathway of an indication entry: every condition it sets must hold."""

    label = forms.CharField(label="Name of the pathway", required=False, max_length=200,
                            help_text="Required when the indication has more than one pathway.")
    min_prior_lines = forms.IntegerField(label="Minimum prior lines", required=False,
                                         help_text="Empty: prior lines are not read. 0 to 20.")
    required_drug_classes = forms.MultipleChoiceField(
        label="Required prior drug classes (all of them)", choices=DRUG_CLASS_CHOICES, required=False,
        widget=forms.CheckboxSelectMultiple)
    first_line_response_in = forms.MultipleChoiceField(
        label="Response to first-line therapy (any one of)", choices=FIRST_LINE_RESPONSE_CHOICES, required=False,
        widget=forms.CheckboxSelectMultiple, help_text="None ticked: the response is not read.")
    disease_status_in = forms.MultipleChoiceField(
        label="Disease status (any one of)", choices=PATHWAY_DISEASE_STATUS_CHOICES, required=False,
        widget=forms.CheckboxSelectMultiple, help_text="None ticked: not read here.")
    min_relapse_number = forms.IntegerField(label="Minimum relapse number", required=False,
                                            help_text="Empty: not read. 1 to 20.")
    transplant_ineligible = forms.BooleanField(label="Not eligible for transplant (HSCT)", required=False)
    lenalidomide_refractory = forms.BooleanField(label="Lenalidomide-refractory", required=False)
    remove = forms.BooleanField(label="Remove this pathway when saving", required=False)


class IndicationsEditor:
    """A product's indication entries and their pathways as forms, with adding an entry or a
    pathway (a button that shows the forms again with one more, keeping what was typed: no
    JavaScript needed), removing one (a box ticked, applied on saving), and the service's refusals
    put beside the field they name (``indications[i].pathways[j].field``).

    The counts of entries and pathways travel in the post (``<prefix>-entries``,
    ``<prefix>-e<i>-pathways``), so does the JSON of the entries as shown (``<prefix>-shown``)."""

    def __init__(self, prefix: str, indications: list[dict] | None = None, data=None, *, new: bool = False):
        self.prefix, self.data, self.errors_top = prefix, data, []
        if data is None:
            entries = indications or ([] if not new else [{"pathways": [{}]}])
            self.shown = dumps(indications or [])
            self.entries = [self._entry(i, _initial_entry(entry), len(entry.get("pathways") or [{}]))
                            for i, entry in enumerate(entries)]
            return
        self.shown = data.get(f"{prefix}-shown", "")
        count = _count(data.get(f"{prefix}-entries"))
        adding = data.get(f"{prefix}-add")
        if adding == "entry":
            count += 1
        self.entries = []
        for i in range(count):
            pathways = max(1, _count(data.get(f"{prefix}-e{i}-pathways")))
            if adding == f"e{i}":
                pathways += 1
            self.entries.append(self._entry(i, None, pathways))

    def _entry(self, i, initial, pathways):
        form_prefix = f"{self.prefix}-e{i}"
        entry_initial = initial[0] if initial else None
        form = IndicationForm(self.data, prefix=form_prefix, initial=entry_initial)
        paths = [PathwayForm(self.data, prefix=f"{form_prefix}-p{j}",
                             initial=initial[1][j] if initial and j < len(initial[1]) else None)
                 for j in range(pathways)]
        return {"index": i, "form": form, "pathways": paths, "prefix": form_prefix}

    @property
    def adding(self) -> bool:
        """The post asked for one more entry or pathway (show again, save nothing)."""
        return bool(self.data and self.data.get(f"{self.prefix}-add"))

    def is_valid(self) -> bool:
        forms_ = [form for entry in self.entries for form in (entry["form"], *entry["pathways"])]
        results = [form.is_valid() for form in forms_]  # every form validated: all errors at once
        return all(results)

    def shown_indications(self) -> list[dict] | None:
        """The entries the page showed (``None`` when the post did not carry them)."""
        try:
            return loads(self.shown) if self.shown else None
        except ValueError:
            return None

    def cleaned(self) -> list[dict]:
        """The entries as ``indication_as_dict`` writes them, those ticked for removal left out;
        remembers which form each kept entry and pathway came from (for the refusals)."""
        self._kept = []
        entries = []
        for entry in self.entries:
            data = entry["form"].cleaned_data
            if data.get("remove"):
                continue
            kept_paths = [form for form in entry["pathways"] if not form.cleaned_data.get("remove")]
            self._kept.append((entry, kept_paths))
            entries.append({
                "diagnosis": data.get("diagnosis") or None,
                "min_age_years": _number(data.get("min_age_years")),
                "max_age_years": _number(data.get("max_age_years")),
                "source": (data.get("source") or "").strip(),
                "pathways": [_pathway(form.cleaned_data) for form in kept_paths],
            })
        return entries

    def add_errors(self, errors: dict[str, list[str]]) -> None:
        """Put the service's refusals (by path) beside their fields; the rest above the entries."""
        for path, problems in errors.items():
            match = _PATH.match(path)
            if not match:
                if path.startswith("indications"):
                    self.errors_top.extend(problems)
                continue
            i, j, name = int(match["entry"]), match["pathway"], match["field"]
            entry, kept_paths = self._kept[i]
            form = entry["form"] if j is None else kept_paths[int(j)]
            for problem in problems:
                if name in form.fields:
                    form.add_error(name, problem)
                else:
                    self.errors_top.append(problem)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors_top) or any(
            form.errors for entry in self.entries for form in (entry["form"], *entry["pathways"]))


_PATH = re.compile(r"^indications\[(?P<entry>\d+)\](?:\.pathways\[(?P<pathway>\d+)\])?(?:\.(?P<field>\w+))?$")


def _count(value) -> int:
    try:
        return max(0, min(int(value), 50))  # a bound: a crafted post cannot ask for a million forms
    except (TypeError, ValueError):
        return 0


def _number(value):
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _initial_entry(entry: dict):
    pathways = entry.get("pathways") or [{}]
    own = {key: entry.get(key) for key in ("diagnosis", "min_age_years", "max_age_years", "source")}
    return own, [{**pathway, "required_drug_classes": pathway.get("required_drug_classes") or [],
                  "first_line_response_in": pathway.get("first_line_response_in") or [],
                  "disease_status_in": pathway.get("disease_status_in") or []} for pathway in pathways]


def _pathway(data: dict) -> dict:
    """A pathway form's values as ``pathway_as_dict`` writes them (nothing ticked: not read, null)."""
    return {"label": (data.get("label") or "").strip(), "min_prior_lines": data.get("min_prior_lines"),
            "required_drug_classes": sorted(data.get("required_drug_classes") or []),
            "first_line_response_in": sorted(data["first_line_response_in"]) if data.get("first_line_response_in")
            else None,
            "disease_status_in": sorted(data["disease_status_in"]) if data.get("disease_status_in") else None,
            "min_relapse_number": data.get("min_relapse_number"),
            "transplant_ineligible": bool(data.get("transplant_ineligible")),
            "lenalidomide_refractory": bool(data.get("lenalidomide_refractory"))}


class DescriptionForm(forms.Form):
    """A draft's name and change note (each carries the value it was shown with: see the views)."""

    name = forms.CharField(label="Name of this version", max_length=RuleSet._meta.get_field("name").max_length,
                           help_text="How checklists will name it, e.g. \"June 2025 US labels\"; no other "
                                     "version's name. Required to publish.")
    change_note = forms.CharField(
        label="Change note (why, and the source)", required=False, max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        # Longer than other free text: a preset's note lists every change with its citation.
        help_text="Required to publish. At most 20,000 characters.")

    def __init__(self, *args, ruleset: RuleSet, **kwargs):
        super().__init__(*args, initial={"name": ruleset.name, "change_note": ruleset.change_note}, **kwargs)
        for field in self.fields.values():
            field.show_hidden_initial = True

    def clean_change_note(self) -> str:
        """The note with line breaks as stored (a browser sends CRLF; a preset's note has LF)."""
        return self.cleaned_data["change_note"].replace("\r\n", "\n")


class ConfirmForm(forms.Form):
    """What a confirmation page posts: the draft's revision it showed (an edit since refuses it). A
    post that did not come from the confirmation page lacks it and acts on nothing."""

    revision = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


class PresetForm(forms.Form):
    """The preset a new draft is made from (criteria-v2 2.4)."""

    preset = forms.ChoiceField(choices=[(code, preset.title) for code, preset in PRESETS.items()])
