"""A shell's environment as after ``make run``, for tests that run the documented commands."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="session")
def shell_environment(tmp_path_factory):
    """Development settings (no DJANGO_* variable set) on a migrated SQLite database of its own:
    the database that ``make run`` creates as ``db.sqlite3``."""
    database = tmp_path_factory.mktemp("documented") / "db.sqlite3"
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env["DATABASE_URL"] = f"sqlite:///{database}"
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    return env
