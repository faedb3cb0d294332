"""End-to-end tests: Playwright drives Debian's Chromium against the live test server.

The live server needs committed data, so these tests are transactional. The flush after each
one empties every table, including what the data migrations created (roles, rule set version
1): ``migration_data`` replays those migrations' own functions when the data is missing.
"""

import importlib
import os

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Playwright's sync API runs an event loop; Django's ORM calls from the test body are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS, "headless": True}


#: The data migrations, in order, with the function each runs.
DATA_MIGRATIONS = [
    ("0002_default_ruleset", "create_default_ruleset"),
    ("0004_roles", "create_roles"),
    ("0006_physician_permissions", "grant"),
    ("0015_withdrawal_permissions", "grant"),
]


@pytest.fixture(autouse=True)
def migration_data(transactional_db):
    """Roles and the default rule set, as the migrations create them, for every end-to-end test."""
    from django.contrib.auth.models import Group

    if Group.objects.exists():
        return
    loader = MigrationExecutor(connection).loader
    for name, function in DATA_MIGRATIONS:
        state_apps = loader.project_state(("eligibility", name)).apps
        module = importlib.import_module(f"eligibility.migrations.{name}")
        getattr(module, function)(state_apps, None)
