"""``manage.py evaluate --as-of YYYY-MM-DD``: the evaluation date of the cases that record no ``as_of``
(criteria-v2 section 3.1), as a separate process: exit status, messages, no traceback."""

import datetime
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

#: A case measured on 10 March 2026, without an as_of of its own.
MEASURED = {"case_id": "as-of", "stage": "screening",
            "labs": {"ldh": {"value": 220, "unit": "U/L", "measured_on": "2026-03-10"}}}


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """Development settings on a SQLite file of its own, migrated once."""
    database = tmp_path_factory.mktemp("db") / "cli.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": f"sqlite:///{database}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    return env


def evaluate(environment, *arguments, stdin=b""):
    return subprocess.run([sys.executable, "manage.py", "evaluate", *arguments], cwd=ROOT, env=environment,
                          input=stdin, capture_output=True, check=False)


def test_a_date_measured_on_the_as_of_date_is_accepted(environment):
    result = evaluate(environment, "--as-of", "2026-03-10", "--format", "json", "-",
                      stdin=json.dumps(MEASURED).encode())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["case_id"] == "as-of"


def test_a_date_measured_after_the_as_of_date_is_an_input_error(environment):
    result = evaluate(environment, "--as-of", "2026-03-09", "--format", "json", "-",
                      stdin=json.dumps(MEASURED).encode())
    assert result.returncode == 2
    assert json.loads(result.stdout) == {"case_id": "as-of", "errors": [
        {"field": "labs.ldh.measured_on", "message": "must not be after as_of (2026-03-09)"}]}
    assert b"Traceback" not in result.stderr


def test_a_case_with_its_own_as_of_keeps_it(environment):
    own = {**MEASURED, "as_of": "2026-03-10"}
    assert evaluate(environment, "--as-of", "2026-03-01", "-", stdin=json.dumps(own).encode()).returncode == 0
    earlier = {**MEASURED, "as_of": "2026-03-09"}
    assert evaluate(environment, "--as-of", "2026-12-31", "-", stdin=json.dumps(earlier).encode()).returncode == 2


def test_without_as_of_the_date_is_today(environment):
    tomorrow = datetime.date.today() + datetime.timedelta(days=2)  # two days: the test may run at midnight
    future = {**MEASURED, "labs": {"ldh": {"value": 220, "unit": "U/L", "measured_on": tomorrow.isoformat()}}}
    assert evaluate(environment, "-", stdin=json.dumps(future).encode()).returncode == 2
    assert evaluate(environment, "-", stdin=json.dumps(MEASURED).encode()).returncode == 0


def test_the_as_of_date_applies_to_every_line_of_a_batch(environment):
    lines = b"".join(json.dumps({**MEASURED, "case_id": f"line-{number}"}).encode() + b"\n" for number in range(3))
    assert evaluate(environment, "--jsonl", "--as-of", "2026-03-10", "-", stdin=lines).returncode == 0
    result = evaluate(environment, "--jsonl", "--format", "json", "--as-of", "2026-03-09", "-", stdin=lines)
    assert result.returncode == 2
    assert [json.loads(line)["line"] for line in result.stdout.splitlines()] == [1, 2, 3]


@pytest.mark.parametrize("value", ["2026-02-30", "2026-3-10", "20260310", "10/03/2026", "today", "",
                                   "2026-03-10T00:00"])
def test_a_bad_as_of_is_refused_with_status_2(environment, value):
    result = evaluate(environment, "--as-of", value, "--format", "json", "-", stdin=json.dumps(MEASURED).encode())
    assert result.returncode == 2
    assert json.loads(result.stdout) == {"errors": [{"field": "--as-of",
                                                     "message": "must be a real date written YYYY-MM-DD"}]}
    assert b"--as-of must be a real date written YYYY-MM-DD" in result.stderr
    assert b"Traceback" not in result.stderr
    text = evaluate(environment, "--as-of", value, "-", stdin=json.dumps(MEASURED).encode())
    assert text.returncode == 2 and text.stdout == b""
