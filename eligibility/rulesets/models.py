"""Rule sets: versions of every threshold and the product catalogue (draft, active, retired)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from ..rules import (
    CATALOGUE,
    DIAGNOSIS,
    RETIRED_THRESHOLDS,
    THRESHOLDS,
    VERSION_1_RULES,
    Diagnosis,
    in_catalogue_order,
)

DIAGNOSIS_CHOICES = [(code, DIAGNOSIS[code]) for code in Diagnosis.__args__]
if "mzl" not in DIAGNOSIS:  # criteria-v2 5.3: joins the engine's vocabulary with the case format's change
    DIAGNOSIS_CHOICES.append(("mzl", "marginal zone lymphoma (MZL)"))
THRESHOLD_CHOICES = [(spec.key, spec.label) for spec in THRESHOLDS if spec.key not in RETIRED_THRESHOLDS]
RULE_CHOICES = [(entry.code, entry.title) for entry in CATALOGUE]
#: The vocabularies of an indication pathway (criteria-v2 4.1, 5.1), in words.
DRUG_CLASS_CHOICES = [("btk_inhibitor", "BTK inhibitor"), ("bcl2_inhibitor", "BCL-2 inhibitor"),
                      ("imid", "immunomodulatory drug (IMiD)"), ("proteasome_inhibitor", "proteasome inhibitor"),
                      ("anti_cd38", "anti-CD38 antibody")]
FIRST_LINE_RESPONSE_CHOICES = [("refractory", "refractory to first-line therapy"),
                               ("relapse_within_12_months", "relapse within 12 months of first-line therapy"),
                               ("relapse_after_12_months", "relapse after 12 months")]
PATHWAY_DISEASE_STATUS_CHOICES = [("relapsed", "relapsed"), ("refractory", "refractory")]


def version_1_rules() -> list[str]:
    """The codes version 1 enables (the 26 of criteria.md 6), in catalogue order."""
    return in_catalogue_order(VERSION_1_RULES)


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
    #: Counts the edits of a draft (values, products, name, change note): an approval and a
    #: confirmation are given for the revision the administrator saw, and an edit since refuses them.
    revision = models.PositiveIntegerField(default=0, db_default=0)
    #: The second administrator who approved the draft at its current revision (four eyes); an
    #: edit after the approval withdraws it. Kept on the published version.
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    #: The codes of the rules this version runs, in catalogue order (criteria-v2 2.1, 2.2).
    enabled_rules = models.JSONField(default=version_1_rules)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="one_active_ruleset"),
            models.UniqueConstraint(fields=["status"], condition=Q(status="draft"), name="one_draft_ruleset"),
            # The author never approves their own draft (the services also refuse every editor).
            models.CheckConstraint(condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
                                   name="ruleset_approver_not_author"),
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
    key = models.CharField(max_length=64, choices=THRESHOLD_CHOICES)
    #: Empty: "to be entered" (criteria-v2 2.3), allowed in a draft only (publishing refuses it).
    value = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
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
    accepts_cryopreserved = models.BooleanField(default=False)
    investigational = models.BooleanField(default=False, help_text="Clinical-trial enrolment only.")
    #: One entry per diagnosis the product is indicated for, ordered by diagnosis, each as a
    #: rule-set file writes it (``rules.indication_as_dict``): age limits, pathways, source.
    indications = models.JSONField(default=list, blank=True)
    #: Who added, changed or removed which product of a draft, and when.
    history = HistoricalRecords()

    #: What an administrator sets for a product of a draft (the code is set once, when it is added).
    EDITABLE_FIELDS = ("name", "target", "accepts_cryopreserved", "investigational", "indications")

    class Meta:
        ordering = ["ruleset", "code"]
        constraints = [models.UniqueConstraint(fields=["ruleset", "code"], name="one_product_code_per_ruleset")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def diagnoses(self) -> list[str]:
        """The diagnoses of its indication entries."""
        return [entry["diagnosis"] for entry in self.indications]


class RuleSetEvent(models.Model):
    """What happened to a version beyond its values: its name or change note edited, an approval,
    an approval withdrawn by an edit, the publication, the discarding of a draft.

    Written once, never edited; the version number is kept so that the events of a discarded draft
    outlive it. The historical records put every event in the audit export.
    """

    class Action(models.TextChoices):
        NAMED = "named", "Name changed"
        NOTED = "noted", "Change note changed"
        APPROVED = "approved", "Approved"
        WITHDRAWN = "withdrawn", "Approval withdrawn"
        PUBLISHED = "published", "Published"
        DISCARDED = "discarded", "Discarded"
        ENABLED = "enabled", "Rule enabled"
        DISABLED = "disabled", "Rule disabled"
        GROUPED = "grouped", "Optional group added"
        UNGROUPED = "ungrouped", "Optional group removed"
        PRESET = "preset", "Created from a preset"

    ruleset = models.ForeignKey(RuleSet, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    #: The draft's revision the event concerns (an approval: the revision approved).
    revision = models.PositiveIntegerField()
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"Version {self.version}: {self.get_action_display().lower()}"


class BackgroundRun(models.Model):
    """Background work over the open assessments (a task on the database queue) whose progress a
    page shows, held by one worker at a time: the re-evaluation after a publish, the impact preview
    of a draft. The lease and its progress are written by :mod:`.leases`.

    A worker holds it by a lease (``worker``, renewed at every batch in the batch's own
    transaction): a second worker finds it held and does nothing; a worker that died leaves a lease
    that stops being renewed, and the page offers to resume it. ``cursor`` is the last assessment
    done, committed with the batch, so a resumed run neither repeats nor skips one."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a task worker"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Stopped by an error"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    worker = models.CharField(max_length=64, blank=True, help_text="the lease holder (its task's id)")
    attempts = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True, help_text="open assessments to do, counted at the start")
    done = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0, help_text="the last assessment done (primary key)")
    enqueued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="why it stopped (no patient data)")

    class Meta:
        abstract = True

    def stalled(self, now, after) -> bool:
        """No worker has taken it or reported a batch for ``after`` (a timedelta): a worker died
        or none runs. A failed one is not stalled: it stopped, and says why."""
        if self.status == self.Status.QUEUED:
            return now - self.enqueued_at > after
        if self.status == self.Status.RUNNING:
            return self.heartbeat_at is None or now - self.heartbeat_at > after
        return False


class RuleSetReevaluation(BackgroundRun):
    """The re-evaluation of the open assessments after a version was published: background work
    (a task on the database queue) whose progress and outcome the version's page shows.

    One per published version, created in the publish's transaction; held by a lease and resumable
    (:class:`BackgroundRun`)."""

    ruleset = models.OneToOneField(RuleSet, on_delete=models.PROTECT, related_name="reevaluation")
    reevaluated = models.PositiveIntegerField(default=0)
    review_requested = models.PositiveIntegerField(default=0)
    unevaluable = models.PositiveIntegerField(default=0)
    unchanged_signed = models.PositiveIntegerField(default=0)
    changed_meanwhile = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"Re-evaluation under version {self.ruleset.version}: {self.get_status_display()}"


class RuleSetReevaluationPart(BackgroundRun):
    """One share of a re-evaluation after a publish, so that several task workers (on one machine
    or several) re-evaluate at once: the open assessments to do whose key is above the part's
    starting ``cursor`` up to ``last``, planned when the first worker starts the re-evaluation.

    Each part is held by one worker at a time under its own lease (:class:`BackgroundRun`: a
    worker that died leaves a part that stops being renewed, and another takes it over, from its
    ``cursor``); each batch commits the part's cursor and the re-evaluation's counts with its writes.
    The re-evaluation's record keeps the whole's progress (done / total, counts), which its page shows."""

    reevaluation = models.ForeignKey(RuleSetReevaluation, on_delete=models.CASCADE, related_name="parts")
    number = models.PositiveSmallIntegerField(help_text="from 1, in the order of the assessments' keys")
    last = models.BigIntegerField(help_text="the last assessment of its share (primary key)")

    class Meta:
        ordering = ["reevaluation", "number"]
        constraints = [models.UniqueConstraint(fields=["reevaluation", "number"], name="one_part_per_number")]

    def __str__(self):
        return f"Part {self.number} of the re-evaluation under version {self.reevaluation.ruleset.version}"


class RuleSetPreview(BackgroundRun):
    """The impact preview of a draft: every open assessment evaluated under the active version and
    under the draft at one revision, compared, as background work (:mod:`.preview`). Its rows are
    the patients whose result or an item would change, and those the draft cannot evaluate.

    One per draft revision and active version (a constraint: two administrators asking at once
    get the same one); an edit of the draft's values, rules or products (``digest``: a name or a
    change note does not change what it compares) or another version published makes it stale
    (the page says so and offers a new one). ``transitions``: ``[[before, after, patients], ...]`` of
    the overall results that change, most first, written when it finishes."""

    draft = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="previews")
    revision = models.PositiveIntegerField(help_text="the draft's revision it was asked for")
    digest = models.CharField(max_length=64, help_text="what of the draft it compares (its values, rules and "
                                                       "products, not its name or note): a SHA-256")
    active = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="+",
                               help_text="the active version it compares against")
    changed = models.PositiveIntegerField(default=0)
    reviews = models.PositiveIntegerField(default=0, help_text="of the changed, signed checklists a physician "
                                                               "would be asked to review")
    unevaluable = models.PositiveIntegerField(default=0)
    transitions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-enqueued_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["draft", "revision", "active"],
                                               name="one_preview_per_revision")]

    def __str__(self):
        return f"Impact preview of version {self.draft.version} (revision {self.revision}): {self.get_status_display()}"

    def is_current(self, digest: str, active: RuleSet) -> bool:
        """Made for the draft's values as they are (``digest``) and the version active now."""
        return self.digest == digest and self.active_id == active.pk


class RuleSetPreviewRow(models.Model):
    """One patient of a preview: a change (its result or an item) or an assessment the draft
    cannot evaluate. ``position`` numbers the preview's rows from 1 in the order the page lists
    them (changes of the result, then of a status, then of wording only, then those it cannot
    evaluate; by study identifier within each), given when the preview finishes: a page is a range
    of positions read by an index, the same cost at any number of patients."""

    class Rank(models.IntegerChoices):
        RESULT = 0, "The overall result changes"
        STATUS = 1, "An item's status changes"
        WORDING = 2, "Wording only"
        UNEVALUABLE = 3, "Cannot be evaluated"

    preview = models.ForeignKey(RuleSetPreview, on_delete=models.CASCADE, related_name="rows")
    patient = models.ForeignKey("eligibility.Patient", on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField(choices=Rank.choices)
    position = models.PositiveIntegerField(null=True, blank=True)
    before = models.CharField(max_length=24, blank=True)
    after = models.CharField(max_length=24, blank=True)
    #: Changes: ``[[code, status before, status after], ...]``; cannot be evaluated: the input errors.
    detail = models.JSONField(default=list)
    signed = models.BooleanField(default=False)
    asks = models.BooleanField(default=False, help_text="signed, and a status or the result changes: publishing "
                                                        "asks a physician to review it")

    class Meta:
        ordering = ["preview", "position"]
        indexes = [models.Index(fields=["preview", "position"], name="preview_row_page")]

    def __str__(self):
        return f"Row {self.position} of preview {self.preview_id}: {self.get_rank_display()}"

    @property
    def unevaluable(self) -> bool:
        return self.rank == self.Rank.UNEVALUABLE
