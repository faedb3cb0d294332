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
    ("eligibility", "0002_default_ruleset", "create_default_ruleset"),
    ("eligibility", "0004_roles", "create_roles"),
    ("eligibility", "0006_physician_permissions", "grant"),
    ("eligibility", "0015_withdrawal_permissions", "grant"),
    ("eligibility", "0019_handoffs", "grant"),
    ("accounts", "0002_administrator_permissions", "grant"),
    ("accounts", "0003_administrator_lock_permissions", "grant"),
]


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
        state_apps = loader.project_state((app, name)).apps
        module = importlib.import_module(f"{app}.migrations.{name}")
        getattr(module, function)(state_apps, None)


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
