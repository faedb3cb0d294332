"""``manage.py evaluate`` as a separate process: exit status, standard input, batches, no traceback."""

import json
import os
import subprocess
import sys

import pytest

from eligibility.rules import VERSION_1_RULES, in_catalogue_order
from tests.conftest import ROOT, load_examples

#: The rules version 1 enables, in catalogue order: the items of a version-1 checklist.
VERSION_1_CODES = tuple(in_catalogue_order(VERSION_1_RULES))

EXAMPLES = dict(load_examples())
CLEAN = EXAMPLES["01-clean.json"]["case"]
FLAGS = EXAMPLES["02-flags.json"]["case"]
BAD = EXAMPLES["05-bad-input.json"]["case"]


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


def jsonl(*cases):
    return b"".join(json.dumps(case).encode() + b"\n" for case in cases)


def test_one_case_from_standard_input(environment):
    result = evaluate(environment, "--format", "json", "-", stdin=json.dumps(CLEAN).encode())
    assert result.returncode == 0, result.stderr
    checklist = json.loads(result.stdout)
    assert checklist["overall"] == "cleared"
    assert len(checklist["items"]) == 26


def test_bad_case_exits_2_names_the_fields_and_prints_no_traceback(environment):
    result = evaluate(environment, "-", stdin=json.dumps(BAD).encode())
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "karnofsky: must be a multiple of 10" in stderr
    assert "alc.unit:" in stderr
    assert "Traceback" not in stderr
    assert result.stdout == b""  # text format: no checklist at all


@pytest.mark.parametrize("text", [b"{not json", b"[]", b"", b'"a string"'])
def test_input_that_is_not_a_case_exits_2(environment, text):
    result = evaluate(environment, "--format", "json", "-", stdin=text)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr.decode()
    assert "$:" in result.stderr.decode()


def test_missing_file_exits_2_with_a_message(environment, tmp_path):
    result = evaluate(environment, str(tmp_path / "absent.json"))
    assert result.returncode == 2
    assert "Cannot read" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_batch_keeps_the_order_evaluates_good_lines_and_reports_bad_ones_in_place(environment):
    stdin = jsonl(CLEAN, BAD) + b"\n" + b"{broken\n" + jsonl(FLAGS)
    result = evaluate(environment, "--jsonl", "--format", "json", "-", stdin=stdin)
    assert result.returncode == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("case_id") for line in lines] == ["example-clean", "example-bad", None, "example-flags"]
    assert lines[0]["overall"] == "cleared"
    assert lines[1] == {"line": 2, "case_id": "example-bad", "errors": [
        {"field": "karnofsky", "message": "must be a multiple of 10"},
        {"field": "alc.unit", "message": "must be one of '10^9/L' or 'cells/uL'"},
    ]}
    assert lines[2]["line"] == 4  # line numbers count the blank line 3
    assert lines[2]["errors"][0]["field"] == "$"
    assert lines[3]["overall"] == "cleared_with_flags"
    assert [item["code"] for item in lines[3]["items"]] == list(VERSION_1_CODES)
    assert "Traceback" not in result.stderr.decode()


def test_batch_of_good_lines_exits_0_with_one_object_per_line(environment):
    cases = [dict(CLEAN, case_id=f"case-{number}") for number in range(300)]
    result = evaluate(environment, "--jsonl", "--format", "json", "-", stdin=jsonl(*cases))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [json.loads(line)["case_id"] for line in lines] == [case["case_id"] for case in cases]


def test_batch_as_text(environment):
    result = evaluate(environment, "--jsonl", "-", stdin=jsonl(CLEAN, FLAGS))
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert text.count("Rule set: Default (source documents), version 1") == 2
    assert "Overall: CLEARED WITH FLAGS" in text


def test_unknown_ruleset_version_exits_2(environment):
    result = evaluate(environment, "--ruleset-version", "99", "-", stdin=json.dumps(CLEAN).encode())
    assert result.returncode == 2
    assert "no rule set version 99" in result.stderr.decode()


def test_a_worked_example_file_runs_as_it_is_with_example(environment):
    result = evaluate(environment, "--example", "--format", "json", "docs/examples/02-flags.json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["overall"] == EXAMPLES["02-flags.json"]["expected"]["overall"]
    without = evaluate(environment, "--format", "json", "docs/examples/02-flags.json")
    assert without.returncode == 2  # the wrapper's keys are not case keys
    assert "case: is not a recognised field" in without.stderr.decode()


def test_example_refuses_a_file_that_is_not_a_worked_example(environment):
    result = evaluate(environment, "--example", "-", stdin=json.dumps(CLEAN).encode())
    assert result.returncode == 2
    assert 'Not a worked example: expected a JSON object with the case under "case"' in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
    assert result.stdout == b""


def test_a_bad_worked_example_is_rejected_like_a_bad_case(environment):
    result = evaluate(environment, "--example", "docs/examples/05-bad-input.json")
    assert result.returncode == 2
    assert "karnofsky: must be a multiple of 10" in result.stderr.decode()


def test_example_does_not_take_a_batch(environment):
    result = evaluate(environment, "--example", "--jsonl", "docs/examples/batch.jsonl")
    assert result.returncode == 2
    assert "leave out --jsonl" in result.stderr.decode()
