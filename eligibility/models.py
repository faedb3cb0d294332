"""Persistent data: versioned rule sets, patients, their assessments and every evaluation."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from simple_history.models import HistoricalRecords

from .jsoncodec import CompactJSONField
from .rules.case import Diagnosis
from .rules.statuses import OVERALL_LABELS
from .rules.thresholds import THRESHOLDS
from .rules.vocabulary import DIAGNOSIS, STAGE

#: The longest free text a user writes: justifications, notes, reasons, change notes (characters).
FREE_TEXT_MAX = 2000


def free_text_too_long(text: str) -> str | None:
    """The message for free text over :data:`FREE_TEXT_MAX` characters, or ``None``."""
    if len(text) > FREE_TEXT_MAX:
        return f"At most {FREE_TEXT_MAX:,} characters (this has {len(text):,})."
    return None


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


class PatientQuerySet(models.QuerySet):
    def active(self):
        """Patients not withdrawn (the worklists and queues show only these)."""
        return self.filter(withdrawn_at__isnull=True)


class Patient(models.Model):
    """A patient of the programme, with the least identifying data the programme needs.

    Pages address a patient by ``public_id`` (opaque); the study identifier and initials never
    appear in a URL or a log line. Identifiers are unique whatever their letter case (the database
    enforces it). A patient is never deleted from the application: a mistaken or departed patient
    is withdrawn with a reason (and can be restored by an administrator).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    study_id = models.CharField(
        "study identifier", max_length=40,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
                                   "Use letters, digits and . _ / - only (a programme or study number).")],
        help_text="The programme's or trial's identifier for this patient, not a medical record number.",
    )
    initials = models.CharField(
        max_length=4,
        validators=[RegexValidator(r"^[A-Z]{1,4}$", "Up to four capital letters, e.g. JD.")],
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    withdrawal_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["study_id"]
        permissions = [("withdraw_patient", "Can withdraw a patient"),
                       ("restore_patient", "Can restore a withdrawn patient")]
        constraints = [
            models.UniqueConstraint(Upper("study_id"), name="study_id_unique_any_case"),
        ]

    def __str__(self) -> str:
        return f"{self.study_id} ({self.initials})"

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None


class Assessment(models.Model):
    """A patient's work-up: the case values of criteria.md section 3, saved as they are recorded.

    ``data`` holds the case exactly as the engine reads it (units included, e.g.
    ``{"alc": {"value": 150, "unit": "cells/uL"}}``); ``revision`` goes up by one on every save so
    that two people editing at once cannot silently overwrite each other.
    """

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="assessment")
    stage = models.CharField(max_length=24, choices=list(STAGE.items()), default="screening")
    data = CompactJSONField(default=dict, blank=True)
    revision = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    current_evaluation = models.OneToOneField(
        "Evaluation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["current_evaluation", "updated_at"])

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"Assessment of {self.patient}"


class Evaluation(models.Model):
    """One run of the engine on an assessment, kept exactly as it was: the inputs it read, the
    checklist it produced and the rule-set version that produced it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="evaluations")
    ruleset = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="evaluations")
    stage = models.CharField(max_length=24, choices=list(STAGE.items()))
    inputs = CompactJSONField(help_text="The case as evaluated (snapshot).")
    checklist = CompactJSONField(help_text="The checklist of criteria.md section 4.")
    overall = models.CharField(max_length=24, choices=list(OVERALL_LABELS.items()))
    flag_count = models.PositiveSmallIntegerField(default=0)
    missing_count = models.PositiveSmallIntegerField(default=0)
    defer_count = models.PositiveSmallIntegerField(default=0)
    exclude_count = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    #: When a new rule-set version re-evaluated unchanged data: the evaluation it replaced and the
    #: items whose status or reason changed ([{"code", "title", "before", "after"}]).
    reevaluated_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changes = CompactJSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.overall} under rule set {self.ruleset_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def open_flags(self) -> int:
        return self.flag_count + self.missing_count + self.defer_count + self.exclude_count


class Disposition(models.Model):
    """A physician's decision about one flagged, deferred, excluded or missing item of an evaluation.

    A flag is acknowledged; a blocking item (exclude, defer, missing) is either accepted (the
    finding stands) or overridden. An override changes what the physician approves, never what
    the engine computed: the item's status stays as evaluated and both are shown.
    """


    class Kind(models.TextChoices):
        #: A flag was read and noted (a note is optional). Before decisions had meanings (migration
        #: 0012) blocking items were acknowledged too; those rows stay as they were recorded, and
        #: such an item needs a new decision before it can be signed.
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        #: A blocking item's finding stands: the patient does not go on because of it.
        ACCEPTED = "accepted", "Finding accepted"
        #: A blocking item is overridden by the physician (coded reason and justification).
        OVERRIDDEN = "overridden", "Overridden"

    class Reason(models.TextChoices):
        CLINICAL_JUDGEMENT = "clinical_judgement", "Clinical judgement"
        DATA_VERIFIED_ELSEWHERE = "data_verified_elsewhere", "Data verified elsewhere"
        TRIAL_PROTOCOL_ALLOWS = "trial_protocol_allows", "Trial protocol allows"
        OTHER = "other", "Other"

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="dispositions")
    code = models.CharField(max_length=40, help_text="The rule code of the item.")
    status = models.CharField(max_length=10, help_text="The item's status as evaluated.")
    item_inputs = models.JSONField(help_text="The item's inputs as evaluated (for carrying the decision over).")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    reason_code = models.CharField(max_length=24, choices=Reason.choices, blank=True)
    justification = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by_name = models.CharField(max_length=200)
    decided_at = models.DateTimeField()
    carried_over_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    #: A decision changed before signing (and what it was) stays in the audit trail.
    history = HistoricalRecords(excluded_fields=["item_inputs", "carried_over_from"])

    class Meta:
        ordering = ["evaluation", "code"]
        constraints = [models.UniqueConstraint(fields=["evaluation", "code"], name="one_disposition_per_item")]

    def __str__(self) -> str:
        return f"{self.code}: {self.kind} by {self.decided_by_name}"


class SignOffQuerySet(models.QuerySet):
    def standing(self):
        """Not voided (at most one per assessment: the database enforces it)."""
        return self.filter(voided_at__isnull=True)


class SignOff(models.Model):
    """A physician's electronic signature on one evaluation (21 CFR Part 11 style): the signer's
    printed name, the date and time, the meaning, bound to what was signed by a SHA-256 hash of
    the evaluation's inputs, rule-set version, checklist and dispositions."""

    class Decision(models.TextChoices):
        #: Every blocking item overridden (or none): the patient proceeds to the next step.
        APPROVED = "approved", "Approved to proceed"
        #: A deferred or missing finding accepted: the work-up stays at its stage, back to the coordinator.
        DEFERRED = "deferred", "Not approved: deferred"
        #: An exclusion accepted: the work-up is closed (a physician can reopen it with a justification).
        NOT_ELIGIBLE = "not_eligible", "Not eligible"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="signoffs")
    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="signoffs")
    stage = models.CharField(max_length=24, choices=list(STAGE.items()))
    #: What the signature means, derived from the decisions when signing and bound by the hash
    #: (signatures made before migration 0012 were all approvals, with hash format 1).
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.APPROVED)
    meaning = models.TextField()
    #: The content hash's format: 1 = before decisions had meanings, 2 = decision and meaning bound too.
    hash_version = models.PositiveSmallIntegerField(default=2)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    content_hash = models.CharField(max_length=64)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    void_reason = models.TextField(blank=True)

    objects = SignOffQuerySet.as_manager()

    class Meta:
        ordering = ["-signed_at", "-id"]
        constraints = [
            # At most one standing signature per checklist (a signature is only ever made on the
            # current evaluation, under the assessment's row lock; this holds even if code forgets).
            models.UniqueConstraint(fields=["evaluation"], condition=Q(voided_at__isnull=True),
                                    name="one_standing_signoff_per_evaluation"),
            # ... and per assessment: a new checklist always voids the signature of the one it replaces.
            models.UniqueConstraint(fields=["assessment"], condition=Q(voided_at__isnull=True),
                                    name="one_standing_signoff_per_assessment"),
        ]

    def __str__(self) -> str:
        return f"{self.meaning} by {self.signer_name} at {self.signed_at:%Y-%m-%d %H:%M}"

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None


class ReviewRequestQuerySet(models.QuerySet):
    def open(self):
        """Not resolved yet (at most one per assessment)."""
        return self.filter(resolved_at__isnull=True)


class ReviewRequest(models.Model):
    """A published rule-set version would change a signed checklist, or cannot evaluate the
    assessment's data at all: the checklist stays pinned to its version and a physician decides.

    Open until resolved: *kept* (the signed checklist stands, with a justification),
    *re-evaluated* (a new checklist under the new version, the signature voided), or
    *superseded* (the data changed, or a later version asked again).
    """

    class Resolution(models.TextChoices):
        KEPT = "kept", "Signed checklist kept"
        REEVALUATED = "reevaluated", "Re-evaluated under the new version"
        SUPERSEDED = "superseded", "Superseded"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="review_requests")
    ruleset = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="+",
                                help_text="The version that asked for the review.")
    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="+",
                                   help_text="The pinned checklist it concerns.")
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(max_length=12, choices=Resolution.choices, blank=True)
    justification = models.TextField(blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    resolved_by_name = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = ReviewRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["assessment"], condition=Q(resolved_at__isnull=True),
                                               name="one_open_review_request_per_assessment")]

    def __str__(self) -> str:
        return f"Review requested by rule set version {self.ruleset_id}: {self.resolution or 'open'}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
