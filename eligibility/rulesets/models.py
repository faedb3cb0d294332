"""Rule sets: versions of every threshold and the product catalogue (draft, active, retired)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from ..rules import DIAGNOSIS, THRESHOLDS, Diagnosis

DIAGNOSIS_CHOICES = [(code, DIAGNOSIS[code]) for code in Diagnosis.__args__]


class RuleSet(models.Model):
    """One version of every threshold and the product catalogue.

    Exactly one version is active; drafts are edited, active and retired versions are read-only,
    and every evaluation records the version that produced it.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    change_note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="one_active_ruleset"),
            models.UniqueConstraint(fields=["status"], condition=Q(status="draft"), name="one_draft_ruleset"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (version {self.version}, {self.get_status_display().lower()})"

    @property
    def is_editable(self) -> bool:
        """Only drafts change; active and retired versions explain past decisions."""
        return self.status == self.Status.DRAFT


class Threshold(models.Model):
    """One threshold value of a rule set; what it means is described in ``rules.thresholds``."""

    ruleset = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="thresholds")
    key = models.CharField(max_length=64, choices=[(spec.key, spec.label) for spec in THRESHOLDS])
    value = models.DecimalField(max_digits=10, decimal_places=3)
    #: Who changed which value of a draft, and when (django-simple-history).
    history = HistoricalRecords()

    class Meta:
        ordering = ["ruleset", "key"]
        constraints = [models.UniqueConstraint(fields=["ruleset", "key"], name="one_value_per_threshold")]

    def __str__(self) -> str:
        return f"{self.key} = {self.value}"


class Product(models.Model):
    """A cell-therapy product of a rule set's catalogue (criteria.md section 5)."""

    ruleset = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="products")
    code = models.SlugField(max_length=64)
    name = models.CharField(max_length=100)
    target = models.CharField(max_length=20, help_text="Target antigen, e.g. CD19, BCMA, EBV.")
    diagnoses = models.JSONField(default=list, help_text="Diagnosis codes the product is indicated for.")
    accepts_cryopreserved = models.BooleanField(default=False)
    investigational = models.BooleanField(default=False, help_text="Clinical-trial enrolment only.")
    age_limit_diagnoses = models.JSONField(default=list, blank=True,
                                           help_text="Diagnoses to which the age limits apply.")
    min_age_years = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    max_age_years = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    #: Who added, changed or removed which product of a draft, and when.
    history = HistoricalRecords()

    #: What an administrator sets for a product of a draft (the code is set once, when it is added).
    EDITABLE_FIELDS = ("name", "target", "diagnoses", "accepts_cryopreserved", "investigational",
                       "age_limit_diagnoses", "min_age_years", "max_age_years")

    class Meta:
        ordering = ["ruleset", "code"]
        constraints = [models.UniqueConstraint(fields=["ruleset", "code"], name="one_product_code_per_ruleset")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
