"""``manage.py evaluate --ruleset-file / --preset / --set`` (criteria-v2 2.6), as a separate process:
rule sets that are evaluated and stored nowhere; refusals exit 2 before any case is read."""

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from eligibility.rules import default_ruleset, draft_from_preset, ruleset_to_file
from tests.conftest import ROOT, load_examples

CLEAN = dict(load_examples())["01-clean.json"]["case"]
BREYANZI_LBCL = {"case_id": "second-line", "stage": "screening", "product": "lisocabtagene_maraleucel",
                 "diagnosis": "lbcl", "disease_status": "relapsed", "prior_lines": 1,
                 "first_line_response": "relapse_after_12_months", "transplant_eligible": False}


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """Development settings on a SQLite file of its own, migrated once."""
    database = tmp_path_factory.mktemp("db") / "cli.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": f"sqlite:///{database}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    env["TEST_DATABASE_FILE"] = str(database)
    return env


def evaluate(environment, *arguments, case=CLEAN):
    return subprocess.run([sys.executable, "manage.py", "evaluate", "--format", "json", *arguments, "-"], cwd=ROOT,
                          env=environment, input=json.dumps(case).encode(), capture_output=True, check=False)


def rule_set_rows(environment) -> int:
    with sqlite3.connect(environment["TEST_DATABASE_FILE"]) as connection:
        tables = [name for (name,) in connection.execute("select name from sqlite_master where type='table'")
                  if name.endswith("_ruleset")]
        return sum(connection.execute(f"select count(*) from {name}").fetchone()[0] for name in tables)  # noqa: S608


def refused(result) -> list[dict]:
    assert result.returncode == 2, result.stderr
    assert b"Traceback" not in result.stderr
    return json.loads(result.stdout)["errors"]


@pytest.fixture
def us_file(tmp_path):
    path = tmp_path / "us.json"
    path.write_bytes(ruleset_to_file(draft_from_preset(default_ruleset(), "us_labels_2025_06").ruleset,
                                     ("Default (source documents)", 1)))
    return path


def test_a_rule_set_file_with_a_setting_is_evaluated_and_stored_nowhere(environment, us_file):
    before = rule_set_rows(environment)
    result = evaluate(environment, "--ruleset-file", str(us_file), "--set", "alc_max_age_days=14",
                      case=BREYANZI_LBCL)
    assert result.returncode == 0, result.stderr
    checklist = json.loads(result.stdout)
    assert checklist["ruleset"] == {"name": "US labels (June 2025) (from version 1)", "version": None}
    assert checklist["items"][0]["status"] == "pass"  # second line, pathway 3 of the US labels
    assert rule_set_rows(environment) == before


def test_a_preset_on_the_active_version(environment):
    result = evaluate(environment, "--preset", "us_labels_2025_06", "--set", "alc_max_age_days=14",
                      case=BREYANZI_LBCL)
    assert result.returncode == 0, result.stderr
    checklist = json.loads(result.stdout)
    assert checklist["ruleset"] == {"name": "US labels (June 2025) (from version 1)", "version": None}
    assert checklist["items"][0]["status"] == "pass"
    assert evaluate(environment, case=BREYANZI_LBCL).stdout.count(b'"exclude"') >= 1  # version 1: 1 line < 2


def test_a_preset_on_a_named_version(environment):
    result = evaluate(environment, "--preset", "us_labels_2025_06", "--ruleset-version", "1", "--set",
                      "alc_max_age_days=0")
    assert result.returncode == 0, result.stderr


def test_a_preset_with_values_to_be_entered_is_refused_naming_each_key(environment):
    errors = refused(evaluate(environment, "--preset", "ebmt_eha", case="this is never read"))
    assert sorted(errors, key=lambda error: error["field"]) == [
        {"field": "--set alc_max_age_days",
         "message": "is to be entered: give it a value before the rule set is previewed or published"},
        {"field": "--set pre_lymphodepletion_tests_max_days",
         "message": "is to be entered: give it a value before the rule set is previewed or published"}]


def test_option_refusals_in_one_pass(environment, us_file):
    errors = refused(evaluate(environment, "--ruleset-file", str(us_file), "--preset", "ebmt_eha",
                              "--ruleset-version", "1"))
    assert errors == [{"field": "--ruleset-file", "message": "excludes --preset: give one of them"},
                      {"field": "--ruleset-file", "message": "excludes --ruleset-version: the file is the rule set"}]
    assert refused(evaluate(environment, "--set", "fever_c=38")) == [
        {"field": "--set", "message": "is accepted only with --ruleset-file or --preset"}]
    assert refused(evaluate(environment, "--preset", "eu_labels")) == [
        {"field": "--preset", "message": "is not a preset (eu_labels); the presets are us_labels_2025_06, ebmt_eha"}]


def test_bad_settings_are_named_by_option(environment):
    errors = refused(evaluate(environment, "--preset", "us_labels_2025_06", "--set", "alc_max_age_days=366",
                              "--set", "min_prior_lines_lbcl=2", "--set", "fever_c=38", "--set", "fever_c=39"))
    assert errors == [
        {"field": "--set alc_max_age_days", "message": "must be between 0 and 365 days"},
        {"field": "--set min_prior_lines_lbcl",
         "message": "is retired: minimum prior lines are set in each product's indication entries"},
        {"field": "--set fever_c", "message": "is given more than once"}]


def test_a_bad_file_is_refused_with_json_paths_before_any_case_is_read(environment, us_file):
    doc = json.loads(us_file.read_bytes())
    doc["products"]["lisocabtagene_maraleucel"]["indications"][0]["pathways"][0]["min_prior_lines"] = -1
    us_file.write_text(json.dumps(doc))
    result = evaluate(environment, "--ruleset-file", str(us_file), "--set", "alc_max_age_days=14",
                      case="not a case")
    assert refused(result) == [{
        "field": "products.lisocabtagene_maraleucel.indications[0].pathways[0].min_prior_lines",
        "message": "must be a whole number from 0 to 20, or null"}]
    assert b"products.lisocabtagene_maraleucel.indications[0].pathways[0].min_prior_lines" in result.stderr


def test_a_file_that_cannot_be_read(environment, tmp_path):
    assert refused(evaluate(environment, "--ruleset-file", str(tmp_path / "none.json"))) == [
        {"field": "--ruleset-file", "message": "cannot be read (No such file or directory)"}]


def test_a_file_not_publishable_is_refused(environment, us_file):
    assert refused(evaluate(environment, "--ruleset-file", str(us_file))) == [
        {"field": "thresholds.alc_max_age_days",
         "message": "is to be entered: give it a value before the rule set is previewed or published"}]
