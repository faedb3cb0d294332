"""Rule-set forms: every threshold of a draft, a product of its catalogue, a new product, the
draft's name and change note, and what a confirmation (or an approval) posts. The allowed values
are checked by the services (the rule data's own validation)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from ..common.display import label_with_unit
from ..common.text import free_text_field
from ..common.vocabulary import unit_text
from ..rules import RULE_CLASSES, plain
from ..rules import VERSION_1_THRESHOLDS as THRESHOLDS
from .models import DIAGNOSIS_CHOICES, Product, RuleSet
from .presenters import source_departure


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
    """Every threshold of a draft; the allowed values are checked by the rule data's own validation."""

    def __init__(self, *args, values, **kwargs):
        super().__init__(*args, **kwargs)
        for spec in THRESHOLDS:
            self.fields[spec.key] = FiniteDecimalField(
                label=label_with_unit(spec.label, unit_text(spec.unit)),
                initial=plain(values[spec.key]),
                max_digits=10, decimal_places=3, show_hidden_initial=True,
                help_text=f"Allowed {plain(spec.minimum)} to {plain(spec.maximum)}"
                          + (", a whole number" if spec.kind == "count" else ""),
            )
        self.departures = {spec.key: source_departure(spec.key, values[spec.key]) for spec in THRESHOLDS}

    def groups(self) -> list[dict]:
        """The fields by the rule that reads them, in catalogue order, with the rule's sources; beside a
        saved value that departs from the source documents, their value."""
        return [{"title": rule.title, "source": rule.source,
                 "fields": [(self[spec.key], self.departures[spec.key]) for spec in rule.thresholds
                            if spec.key in self.fields]}
                for rule in RULE_CLASSES if rule.thresholds]


class ProductForm(forms.ModelForm):
    """One product of a draft's catalogue (prefixed with its code: one form per product)."""

    diagnoses = forms.MultipleChoiceField(choices=DIAGNOSIS_CHOICES, widget=forms.CheckboxSelectMultiple)
    age_limit_diagnoses = forms.MultipleChoiceField(choices=DIAGNOSIS_CHOICES, required=False,
                                                    widget=forms.CheckboxSelectMultiple,
                                                    label="Diagnoses the age limits apply to")

    class Meta:
        model = Product
        fields = list(Product.EDITABLE_FIELDS)
        field_classes = {"min_age_years": FiniteDecimalField, "max_age_years": FiniteDecimalField}

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


class DescriptionForm(forms.Form):
    """A draft's name and change note (each carries the value it was shown with: see the views)."""

    name = forms.CharField(label="Name of this version", max_length=RuleSet._meta.get_field("name").max_length,
                           help_text="How checklists will name it, e.g. \"June 2025 US labels\"; no other "
                                     "version's name. Required to publish.")
    change_note = free_text_field("Change note (why, and the source)", rows=3, required=False,
                                  help_text="Required to publish.")

    def __init__(self, *args, ruleset: RuleSet, **kwargs):
        super().__init__(*args, initial={"name": ruleset.name, "change_note": ruleset.change_note}, **kwargs)
        for field in self.fields.values():
            field.show_hidden_initial = True


class ConfirmForm(forms.Form):
    """What a confirmation page posts: the draft's revision it showed (an edit since refuses it). A
    post that did not come from the confirmation page lacks it and acts on nothing."""

    revision = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
