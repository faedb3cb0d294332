"""Patients, their assessment (the case as recorded) and every evaluation of it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Upper
from simple_history.models import HistoricalRecords

from ..common.jsoncodec import CompactJSONField, JSONDocumentField
from ..common.vocabulary import OVERALL_LABELS, STAGE_LABELS
from ..rulesets.models import RuleSet


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
    #: The patient's current treatment episode (issue 14): the latest one started. Worklists,
    #: queues, the intake and the checklist pages of a patient show it; earlier episodes are
    #: closed and stay readable (``episodes``, by number). Empty only while the patient is created.
    assessment = models.OneToOneField("Assessment", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="current_of")
    # The episodes keep their own history (who opened and closed each, when).
    history = HistoricalRecords(excluded_fields=["assessment"])

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["study_id"]
        permissions = [("withdraw_patient", "Can withdraw a patient"),
                       ("restore_patient", "Can restore a withdrawn patient")]
        constraints = [
            models.UniqueConstraint(Upper("study_id"), name="study_id_unique_any_case"),
        ]
        # The worklists count and join the patients not withdrawn: a partial index, read alone.
        indexes = [models.Index(fields=["id"], condition=models.Q(withdrawn_at__isnull=True),
                                name="patient_active_idx")]

    def __str__(self) -> str:
        return f"{self.study_id} ({self.initials})"

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None


#: The worklist's columns of an episode (see ``Assessment.list_shown``).
LIST_FIELDS = ("list_shown", "list_study", "list_initials", "list_stage", "list_evaluated", "list_result",
               "list_flag", "list_defer", "list_exclude", "list_missing")
#: The worklist's sort keys as columns of the episode: (column, needs ``list_evaluated`` first).
LIST_SORT_COLUMNS = {
    "study_id": ("list_study", False),
    "initials": ("list_initials", False),
    "stage": ("list_stage", False),
    "result": ("list_result", True),
    "flag": ("list_flag", True),
    "defer": ("list_defer", True),
    "exclude": ("list_exclude", True),
    "missing": ("list_missing", True),
    "updated": ("updated_at", False),
}


def worklist_order(sort: str, direction: str) -> list[str]:
    """The worklist's ORDER BY (field names of the episode) for a sort key and direction: the not
    evaluated last either way, then the key, then the study identifier ascending (unique among the
    listed rows: the order is total)."""
    column, evaluated_first = LIST_SORT_COLUMNS[sort]
    order = ["-list_evaluated"] if evaluated_first else []
    order.append(f"-{column}" if direction == "desc" else column)
    if column != "list_study":
        order.append("list_study")
    return order


def worklist_indexes() -> list[models.Index]:
    """A partial index (the listed rows) per worklist order; a descending order of the key with the
    ascending tie-break needs an index of its own."""
    listed = models.Q(list_shown=True)
    indexes = [models.Index(fields=["list_study"], condition=listed, name="worklist_study_idx")]
    for sort, (column, _) in LIST_SORT_COLUMNS.items():
        if column == "list_study":
            continue
        short = sort[:7]
        indexes.append(models.Index(fields=worklist_order(sort, "asc"), condition=listed,
                                    name=f"worklist_{short}_a_idx"))
        indexes.append(models.Index(fields=worklist_order(sort, "desc"), condition=listed,
                                    name=f"worklist_{short}_d_idx"))
    return indexes


class WorklistCount(models.Model):
    """How many episodes the worklist lists, by whether evaluated, result rank and stage rank
    (``Assessment.list_*``), as signed deltas that triggers on the episodes' table append.
    PostgreSQL (migration 0032): statement triggers; a change moving 1,000 rows adds a row per group
    it changes, never an update of a shared row (so writers never wait for each other on a counter).
    SQLite (migration 0033, one writer at a time anyway): row triggers, two deltas a row moved. The
    worklist's caption sums the groups its filters select: a few rows, whatever the number of
    patients, where counting the listed rows read 100,000 index entries.
    :func:`worklist_counts_compact` sums them into one row per group now and then."""

    evaluated = models.SmallIntegerField()
    result = models.SmallIntegerField()
    stage = models.SmallIntegerField()
    delta = models.IntegerField()

    def __str__(self) -> str:
        return f"{self.delta:+d} (evaluated {self.evaluated}, result {self.result}, stage {self.stage})"


class Assessment(models.Model):
    """A treatment episode of a patient (first work-up, re-collection, re-treatment) and its case:
    the values of criteria.md section 3, saved as they are recorded.

    Each episode has its own intake, checklists, decisions, signatures and rule-set versions (its
    evaluations name theirs). ``Patient.assessment`` is the current one; at most one episode of a
    patient is open (the database enforces it), and starting a new one closes the previous one
    (``episodes.episode_start``). A closed episode takes no data and no re-evaluation; it stays
    readable.

    ``data`` holds the case exactly as the engine reads it (units included, e.g.
    ``{"alc": {"value": 150, "unit": "cells/uL"}}``); ``revision`` goes up by one on every save so
    that two people editing at once cannot silently overwrite each other.
    """

    class Kind(models.TextChoices):
        FIRST_WORKUP = "first_workup", "First work-up"
        RECOLLECTION = "recollection", "Re-collection"
        RETREATMENT = "retreatment", "Re-treatment"

    class CloseReason(models.TextChoices):
        COMPLETED = "completed", "Treatment completed"
        NOT_ELIGIBLE = "not_eligible", "Not eligible"
        SUPERSEDED = "superseded", "Replaced by a new episode"
        STOPPED = "stopped", "Stopped (other reason)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="episodes")
    #: 1, 2, ... in the order the patient's episodes were started (unique per patient).
    number = models.PositiveSmallIntegerField("episode number", default=1)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FIRST_WORKUP)
    #: The episode whose values this one started from (their measurement dates kept), if any.
    started_from = models.ForeignKey("self", verbose_name="started from episode", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField("episode opened at", null=True, blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="episode opened by", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField("episode closed at", null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="episode closed by", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    close_note = models.TextField("note on closing", blank=True)
    #: Key dates the engine does not read (the treatment dates it reads are case keys in ``data``:
    #: ``leukapheresis_date``, ``product_received_on``, ``lymphodepletion_start_date``,
    #: ``infusion_date``); ``*_done``: the case's planned date has happened as recorded.
    consent_on = models.DateField("consent signed", null=True, blank=True)
    screening_on = models.DateField("screening visit", null=True, blank=True)
    leukapheresis_done = models.BooleanField("leukapheresis done", default=False)
    lymphodepletion_done = models.BooleanField("lymphodepletion started", default=False)
    infusion_done = models.BooleanField("infusion given", default=False)
    stage = models.CharField(max_length=24, choices=list(STAGE_LABELS.items()), default="screening")
    data = CompactJSONField(default=dict, blank=True)
    revision = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    current_evaluation = models.OneToOneField(
        "Evaluation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The worklist's row of this episode, kept by the database itself (triggers of migration 0028 on
    # the patients, episodes and evaluations: every write, whatever its path, in the same statement
    # and so under the same row locks): whether the row is listed (the current episode of a patient
    # not withdrawn), the patient's study identifier in capitals and initials (the tie-break), and
    # the current evaluation's result and counts and the stage as numbers in the vocabularies'
    # order (0 when not evaluated: ``list_evaluated`` 0 sorts those last). One table holds the
    # filter, the sort key and the tie-break, so each order is one index read a page at a time.
    # Never written by the application (a value it writes is recomputed by the trigger).
    list_shown = models.BooleanField(default=False, editable=False)
    list_study = models.CharField(max_length=40, default="", editable=False)
    list_initials = models.CharField(max_length=4, default="", editable=False)
    list_stage = models.SmallIntegerField(default=0, editable=False)
    list_evaluated = models.SmallIntegerField(default=0, editable=False)  # 1 or 0: an equality an index can use
    list_result = models.SmallIntegerField(default=0, editable=False)
    list_flag = models.SmallIntegerField(default=0, editable=False)
    list_defer = models.SmallIntegerField(default=0, editable=False)
    list_exclude = models.SmallIntegerField(default=0, editable=False)
    list_missing = models.SmallIntegerField(default=0, editable=False)
    history = HistoricalRecords(excluded_fields=["current_evaluation", "updated_at", *LIST_FIELDS])

    class Meta:
        ordering = ["-updated_at"]
        permissions = [("manage_episode", "Can start and close treatment episodes")]
        # The worklist's default order (most recent change first), read in order, one page at a time;
        # and each of its orders over the listed rows, one index per key and direction (the
        # tie-break, the study identifier, always ascending).
        indexes = [models.Index(fields=["updated_at"], name="assessment_updated_idx"), *worklist_indexes()]
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="one_episode_number_per_patient"),
            models.UniqueConstraint(fields=["patient"], condition=models.Q(closed_at__isnull=True),
                                    name="one_open_episode_per_patient"),
            models.CheckConstraint(condition=models.Q(closed_at__isnull=True) | ~models.Q(close_reason=""),
                                   name="closed_episode_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Episode {self.number} of {self.patient}"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


#: What a list of checklists never shows of each: the stored inputs and items (about 7 KB of JSON,
#: decoded for nothing) and a re-evaluation's changes (``.defer()`` them on list pages).
UNSHOWN_EVALUATION_FIELDS = ("inputs", "checklist", "changes")


class Evaluation(models.Model):
    """One run of the engine on an assessment, kept exactly as it was: the inputs it read, the
    checklist it produced and the rule-set version that produced it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="evaluations")
    ruleset = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="evaluations")
    stage = models.CharField(max_length=24, choices=list(STAGE_LABELS.items()))
    inputs = JSONDocumentField(help_text="The case as evaluated (snapshot).")
    checklist = JSONDocumentField(help_text="The checklist of criteria.md section 4.")
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
    #: The evaluation date it used (criteria-v2 2.5, 3.1): the case's ``as_of``, else the programme's
    #: date when it ran. Empty for evaluations made before it was recorded.
    as_of = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The physicians' queue (oldest first), read in order until it has a page.
        indexes = [models.Index(fields=["created_at", "id"], name="evaluation_created_idx")]

    def __str__(self) -> str:
        return f"{self.overall} under rule set {self.ruleset_id} at {self.created_at:%Y-%m-%d %H:%M}"
