"""Reads: the active rule set and its values as plain data for the engine."""

from __future__ import annotations

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery

from .models import Evaluation, Patient, ReviewRequest, RuleSet, SignOff
from .rules import Engine, RuleSetData
from .rules.thresholds import ProductSpec


class NoActiveRuleSet(LookupError):
    """The database has no active rule set (not migrated, or emptied by hand)."""


def ruleset_get(*, version: int | None = None) -> RuleSet:
    """The rule set of ``version``, or the active one."""
    try:
        if version is None:
            return RuleSet.objects.get(status=RuleSet.Status.ACTIVE)
        return RuleSet.objects.get(version=version)
    except RuleSet.DoesNotExist:
        what = "no active rule set" if version is None else f"no rule set version {version}"
        raise NoActiveRuleSet(f"There is {what}: run 'python manage.py migrate'.") from None


def ruleset_data(ruleset: RuleSet) -> RuleSetData:
    """Every threshold and product of ``ruleset`` as plain values (two queries)."""
    thresholds = dict(ruleset.thresholds.values_list("key", "value"))
    products = {
        product.code: ProductSpec(
            code=product.code,
            name=product.name,
            target=product.target,
            diagnoses=frozenset(product.diagnoses),
            accepts_cryopreserved=product.accepts_cryopreserved,
            investigational=product.investigational,
            age_limit_diagnoses=frozenset(product.age_limit_diagnoses),
            min_age_years=product.min_age_years,
            max_age_years=product.max_age_years,
        )
        for product in ruleset.products.all()
    }
    return RuleSetData(name=ruleset.name, version=ruleset.version, thresholds=thresholds, products=products)


def engine_get(*, version: int | None = None) -> Engine:
    """An engine for the active rule set (or ``version``), its values loaded once."""
    return engine_for(ruleset_get(version=version))


#: Engines of active or retired rule sets by (primary key, version): those versions never change.
_ENGINES: dict[tuple[int, int], Engine] = {}


def engine_for(ruleset: RuleSet) -> Engine:
    """The engine of ``ruleset``, built once per process for versions that can no longer change."""
    if ruleset.status == RuleSet.Status.DRAFT:
        return Engine(ruleset_data(ruleset))
    key = (ruleset.pk, ruleset.version)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _ENGINES[key] = Engine(ruleset_data(ruleset))
    return engine


def active_engine() -> tuple[RuleSet, Engine]:
    """The active rule set and its engine (one query once the engine is built)."""
    ruleset = ruleset_get()
    return ruleset, engine_for(ruleset)


def worklist_patients(*, result: str = "", stage: str = "", search: str = ""):
    """Patients for the worklist with their assessment and current evaluation, newest change first.

    One query for the page whatever the number of patients (joins, no per-row lookups).
    """
    requested = ReviewRequest.objects.open().filter(assessment=OuterRef("assessment"))
    standing = SignOff.objects.standing().filter(assessment=OuterRef("assessment"))
    patients = (Patient.objects.active()
                .select_related("assessment", "assessment__current_evaluation", "assessment__updated_by")
                .annotate(review_requested=Exists(requested),
                          signoff_decision=Subquery(standing.values("decision")[:1]))
                .order_by("-assessment__updated_at"))
    if result:
        patients = patients.filter(assessment__current_evaluation__overall=result)
    if stage:
        patients = patients.filter(assessment__stage=stage)
    if search:
        patients = patients.filter(study_id__icontains=search.strip())
    return patients


def physician_queue():
    """Current checklists without a standing sign-off, or signed ones a new rule-set version asks
    a physician to review again; oldest first, with how many items still need a physician's
    disposition (one query)."""
    signed = SignOff.objects.standing().filter(evaluation=OuterRef("pk"))
    requested = ReviewRequest.objects.open().filter(assessment=OuterRef("assessment"))
    return (
        Evaluation.objects.filter(assessment__current_evaluation=F("pk"),
                                  assessment__patient__withdrawn_at__isnull=True)
        .annotate(signed=Exists(signed), review_requested=Exists(requested), decided=Count("dispositions", filter=(
            Q(dispositions__status="flag", dispositions__kind="acknowledged")
            | Q(dispositions__status__in=("defer", "exclude", "missing"),
                dispositions__kind__in=("accepted", "overridden")))))
        .filter(Q(signed=False) | Q(review_requested=True))
        .annotate(undecided=F("flag_count") + F("missing_count") + F("defer_count") + F("exclude_count")
                  - F("decided"))
        .select_related("assessment__patient")
        .order_by("created_at")
    )
