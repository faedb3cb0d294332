"""Administrators' pages: rule-set versions, draft editing, differences, impact preview, publishing."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from . import rulesets
from .models import DIAGNOSIS_CHOICES, Product, RuleSet
from .rules.thresholds import THRESHOLDS, THRESHOLDS_BY_KEY
from .selectors import ruleset_get

ADMIN = "eligibility.change_ruleset"


class ThresholdsForm(forms.Form):
    """Every threshold of a draft; the allowed values are checked by the rule data's own validation."""

    def __init__(self, *args, values, **kwargs):
        super().__init__(*args, **kwargs)
        for spec in THRESHOLDS:
            self.fields[spec.key] = forms.DecimalField(
                label=f"{spec.label}" + (f" ({spec.unit})" if spec.unit else ""), initial=values[spec.key],
                max_digits=10, decimal_places=3,
                help_text=f"{spec.rule}; allowed {spec.minimum.normalize():f} to {spec.maximum.normalize():f}"
                          + (", whole number" if spec.kind == "count" else ""),
            )


class ProductForm(forms.ModelForm):
    """One product of a draft's catalogue (prefixed with its code: one form per product)."""

    diagnoses = forms.MultipleChoiceField(choices=DIAGNOSIS_CHOICES, widget=forms.CheckboxSelectMultiple)
    age_limit_diagnoses = forms.MultipleChoiceField(choices=DIAGNOSIS_CHOICES, required=False,
                                                    widget=forms.CheckboxSelectMultiple,
                                                    label="Diagnoses the age limits apply to")

    class Meta:
        model = Product
        fields = ["name", "target", "diagnoses", "accepts_cryopreserved", "investigational", "age_limit_diagnoses",
                  "min_age_years", "max_age_years"]


class PublishForm(forms.Form):
    change_note = forms.CharField(label="Change note (why, and the source)", widget=forms.Textarea(attrs={"rows": 3}))


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["GET", "POST"])
def ruleset_list(request):
    """Every version with its change note, who made and published it, and its differences."""
    if request.method == "POST":
        if RuleSet.objects.filter(status=RuleSet.Status.DRAFT).exists():
            messages.error(request, "A draft exists already: edit or publish it first.")
            return redirect("ruleset_list")
        draft = rulesets.ruleset_draft_create(by=request.user)
        messages.success(request, f"Draft version {draft.version} created from the active version.")
        return redirect("ruleset_detail", version=draft.version)
    versions = list(RuleSet.objects.select_related("created_by", "published_by", "based_on"))
    rows = [{"ruleset": version,
             "differences": rulesets.ruleset_differences(version.based_on, version) if version.based_on else []}
            for version in versions]
    return render(request, "eligibility/ruleset_list.html", {"rows": rows})


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["GET", "POST"])
def ruleset_detail(request, version):
    ruleset = get_object_or_404(RuleSet, version=version)
    values = dict(ruleset.thresholds.values_list("key", "value"))
    form = ThresholdsForm(request.POST or None, values=values) if ruleset.is_editable else None
    if request.method == "POST":
        if form is None:
            messages.error(request, f"Version {version} is {ruleset.get_status_display().lower()} and read-only.")
            return redirect("ruleset_detail", version=version)
        if form.is_valid():
            try:
                rulesets.ruleset_thresholds_update(draft=ruleset, values=form.cleaned_data, by=request.user)
            except rulesets.RuleSetRefused as refused:
                form.add_error(None, str(refused))
                for key, problems in refused.errors.items():
                    for problem in problems:
                        form.add_error(key if key in form.fields else None, problem)
            else:
                messages.success(request, "Draft saved.")
                return redirect("ruleset_detail", version=version)
    active = ruleset_get()
    products = [(product, ProductForm(instance=product, prefix=product.code) if ruleset.is_editable else None)
                for product in ruleset.products.all()]
    return render(request, "eligibility/ruleset_detail.html", {
        "products": products,
        "ruleset": ruleset, "form": form, "publish_form": PublishForm() if ruleset.is_editable else None,
        "thresholds": [(THRESHOLDS_BY_KEY[key], value) for key, value in sorted(values.items())],
        "differences": rulesets.ruleset_differences(active, ruleset) if ruleset != active else [],
        "active": active,
    })


@permission_required(ADMIN, raise_exception=True)
def ruleset_preview(request, version):
    draft = get_object_or_404(RuleSet, version=version, status=RuleSet.Status.DRAFT)
    impact = rulesets.impact_preview(draft=draft)
    return render(request, "eligibility/ruleset_preview.html", {"ruleset": draft, "impact": impact})


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["POST"])
def ruleset_publish(request, version):
    draft = get_object_or_404(RuleSet, version=version)
    form = PublishForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A change note is required to publish.")
        return redirect("ruleset_detail", version=version)
    try:
        published = rulesets.ruleset_publish(draft=draft, note=form.cleaned_data["change_note"], by=request.user)
    except rulesets.RuleSetRefused as refused:
        messages.error(request, str(refused))
        return redirect("ruleset_detail", version=version)
    outcome = rulesets.reevaluate_open_assessments(ruleset=published, by=request.user)
    messages.success(request, (
        f"Version {published.version} is active. Re-evaluated {outcome.reevaluated} open assessment(s); "
        f"{outcome.review_requested} signed checklist(s) marked for a physician's review."))
    return redirect("ruleset_list")


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["POST"])
def ruleset_product(request, version, code):
    """Save one product of a draft's catalogue."""
    ruleset = get_object_or_404(RuleSet, version=version)
    product = get_object_or_404(Product, ruleset=ruleset, code=code)
    form = ProductForm(request.POST, instance=product, prefix=code)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{product.name}: {field}: {' '.join(errors)}")
        return redirect("ruleset_detail", version=version)
    values = {field: form.cleaned_data[field] for field in ProductForm.Meta.fields}
    # The service validates again and saves a fresh copy of the product (the form only converts).
    try:
        rulesets.ruleset_product_update(draft=ruleset, code=code, by=request.user, **values)
    except rulesets.RuleSetRefused as refused:
        messages.error(request, f"{product.name}: {refused}")
        for field, problems in refused.errors.items():
            messages.error(request, f"{product.name}: {field}: {' '.join(problems)}")
    else:
        messages.success(request, f"{values['name']} saved.")
    return redirect("ruleset_detail", version=version)
