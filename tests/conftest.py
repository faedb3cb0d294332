"""Shared fixtures."""

import importlib
import json
from pathlib import Path

import pytest

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
#: The worked examples of the documentation (README, docs/criteria.md), one case and its expected result each.
EXAMPLES_DIR = ROOT / "docs" / "examples"


def load_examples() -> list[tuple[str, dict]]:
    """The worked cases of docs/examples: (file name, {"note", "case", "expected"})."""
    return [(path.name, json.loads(path.read_text())) for path in sorted(EXAMPLES_DIR.glob("*.json"))]


@pytest.fixture
def examples():
    return load_examples()


@pytest.fixture(autouse=True, scope="session")
def _jinja2_pages_in_response_context():
    """The test client's ``response.context`` and ``response.templates`` for Jinja2 pages too.

    Django instruments only its own engine (``template_rendered`` is sent by Django templates);
    a page rendered by the Jinja2 backend (issue 15) sends it here with its whole context (the
    view's, then request, csrf and the context processors', as the backend adds them), before
    the crispy-forms templates it renders, so that a test reads the page's context first."""
    from django.template.backends import jinja2 as backend
    from django.template.backends.utils import csrf_input_lazy, csrf_token_lazy
    from django.test.signals import template_rendered

    original = backend.Template.render

    def render(self, context=None, request=None):
        context = {} if context is None else dict(context)
        if request is not None:
            context["request"] = request
            context["csrf_input"] = csrf_input_lazy(request)
            context["csrf_token"] = csrf_token_lazy(request)
            for processor in self.backend.template_context_processors:
                context.update(processor(request))
        template_rendered.send(sender=self, template=self.template, context=context)
        return original(self, context)

    backend.Template.render = render
    yield
    backend.Template.render = original


@pytest.fixture(autouse=True)
def _fresh_engine_cache():
    """Engines of published versions are cached per process by (primary key, version): a version
    never changes once published, but a test's rollback lets the next test reuse the same key for
    different values."""
    from eligibility.rulesets.selectors import engine_cache_clear

    engine_cache_clear()
    yield
    engine_cache_clear()


#: The data migrations, in order, with the function each runs: what a flushed database lacks.
DATA_MIGRATIONS = [
    ("eligibility", "0002_default_ruleset", "create_default_ruleset"),  # as 0022-0023 leave it: see below
    ("eligibility", "0004_roles", "create_roles"),
    ("eligibility", "0006_physician_permissions", "grant"),
    ("eligibility", "0015_withdrawal_permissions", "grant"),
    ("eligibility", "0019_handoffs", "grant"),
    ("eligibility", "0027_episode_permissions", "grant"),
    ("accounts", "0002_administrator_permissions", "grant"),
    ("accounts", "0003_administrator_lock_permissions", "grant"),
]


def migrate_to_latest() -> None:
    """The schema as the other tests expect it (every migration applied): a migration test that
    migrated back and forth leaves it so, whatever its target was (a migration added later must
    not be left unapplied for the tests after it)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def migrate_to(target: list[tuple[str, str]]):
    """The database migrated to ``target`` (``[(app, migration)]``, back or forward), and the
    models as they were there (their historical versions, for writing rows as that release did)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()  # what is applied now, after the migrations run since it was made
    executor.migrate(target)
    return MigrationExecutor(connection).loader.project_state(target[0]).apps


@pytest.fixture
def migration_data_then_latest_schema(transactional_db):
    """A migration test's database: the roles and default rule set as the migrations make them
    (a transactional test's flush emptied them), and every migration applied again after it."""
    replay_data_migrations()
    yield
    migrate_to_latest()  # leave the schema as the other tests expect it, whatever happened


def replay_data_migrations() -> None:
    """Roles and the default rule set as the migrations create them, when a transactional test's
    flush emptied the tables (a no-op when they are there)."""
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    if Group.objects.exists():
        return
    loader = MigrationExecutor(connection).loader
    for app, name, function in DATA_MIGRATIONS:
        module = importlib.import_module(f"{app}.migrations.{name}")
        if name == "0002_default_ruleset":
            _replay_version_1(module, loader.project_state(("eligibility", "0023_retire_product_age_fields")).apps)
            continue
        state_apps = loader.project_state((app, name)).apps
        getattr(module, function)(state_apps, None)


def _replay_version_1(module, state_apps) -> None:
    """Version 1 as migration 0002 creates it and 0022 converts it (its products' diagnoses and age
    limits as indication entries, the minimums of prior lines moved into them): 0002's own function
    writes product fields that 0023 dropped."""
    from decimal import Decimal

    converted = importlib.import_module("eligibility.migrations.0022_ruleset_clinical_depth")
    minimums = {diagnosis: Decimal(module.THRESHOLDS[key]) for diagnosis, key in converted.MIN_PRIOR_LINES_KEYS.items()}
    ruleset = state_apps.get_model("eligibility", "RuleSet").objects.create(
        name="Default (source documents)", version=1, status="active", enabled_rules=converted.VERSION_1_RULES,
        change_note="Thresholds and product catalogue as given by the source documents (criteria.md).")
    state_apps.get_model("eligibility", "Threshold").objects.bulk_create(
        state_apps.get_model("eligibility", "Threshold")(ruleset=ruleset, key=key, value=Decimal(value))
        for key, value in module.THRESHOLDS.items() if key not in converted.MIN_PRIOR_LINES_KEYS.values())
    Product = state_apps.get_model("eligibility", "Product")
    Product.objects.bulk_create(
        Product(ruleset=ruleset, code=code, name=name, target=target, accepts_cryopreserved=cryopreserved,
                investigational=investigational, indications=converted.product_indications(
                    diagnoses=diagnoses, age_limit_diagnoses=limited, min_age_years=min_age, max_age_years=max_age,
                    min_prior_lines=minimums))
        for code, name, target, diagnoses, cryopreserved, investigational, limited, min_age, max_age
        in module.PRODUCTS)


# People in roles, for the tests of the eligibility packages (a folder or module may define its own,
# e.g. tests/accounts with names).
@pytest.fixture
def administrator():
    return UserFactory(role="Administrator")


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator")


@pytest.fixture
def physician():
    return UserFactory(role="Physician")
