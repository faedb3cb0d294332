"""A physician's review: decisions per item, signatures, and review requests a new version raises."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from ..patients.models import Assessment, Evaluation
from ..rules import STAGE
from ..rulesets.models import RuleSet


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
