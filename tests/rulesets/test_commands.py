"""``manage.py ruleset_export``, ``ruleset_import`` and ``ruleset_presets`` (criteria-v2 2.6):
rule sets leave as files and come back as drafts; refusals name every error, store nothing and
exit with status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from eligibility.models import RuleSet, Threshold
from eligibility.rules import default_ruleset, draft_from_preset, ruleset_to_file
from eligibility.rulesets import services as rulesets
from eligibility.rulesets.selectors import ruleset_data
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

US = "us_labels_2025_06"


def run(name, *arguments):
    """The command's exit status (0, or the refusal's), standard output and standard error."""
    out, err = StringIO(), StringIO()
    try:
        call_command(name, *arguments, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def refused(result) -> list[dict]:
    status, out, err = result
    assert status == 2, (out, err)
    assert "Traceback" not in err and err.startswith("Refused: ")
    return json.loads(out)["errors"]


def stored() -> tuple[int, int]:
    return RuleSet.objects.count(), Threshold.objects.count()


def version_1_file(tmp_path, **changes):
    """Version 1's file, its top-level fields changed (JSON values) and written to ``import.json``."""
    document = json.loads(ruleset_to_file(default_ruleset(), None))
    document.update(changes)
    path = tmp_path / "import.json"
    path.write_text(json.dumps(document))
    return path


# --- ruleset_export ------------------------------------------------------------------------------------

def test_version_1_exports_exactly_as_the_engine_writes_the_default_rule_set(tmp_path):
    assert run("ruleset_export", "1", "-o", str(tmp_path / "v1.json"))[0] == 0
    assert (tmp_path / "v1.json").read_bytes() == ruleset_to_file(default_ruleset(), None)
    status, out, _ = run("ruleset_export", "1")
    assert (status, out.encode()) == (0, ruleset_to_file(default_ruleset(), None))


def test_a_draft_exports_with_its_base_and_its_values_to_be_entered(administrator, tmp_path):
    draft = rulesets.ruleset_draft_from_preset(code=US, by=administrator)
    _, out, _ = run("ruleset_export", str(draft.version))
    document = json.loads(out)
    assert document["based_on"] == {"name": RuleSet.objects.get(version=1).name, "version": 1}
    assert document["thresholds"]["alc_max_age_days"] is None
    assert out.encode() == ruleset_to_file(ruleset_data(draft), (RuleSet.objects.get(version=1).name, 1))


def test_an_unknown_version_is_refused(tmp_path):
    errors = refused(run("ruleset_export", "7", "-o", str(tmp_path / "v7.json")))
    assert errors == [{"field": "N", "message": "there is no rule-set version 7 (versions: 1)"}]
    assert not (tmp_path / "v7.json").exists()


def test_an_output_that_cannot_be_written_is_refused(tmp_path):
    errors = refused(run("ruleset_export", "1", "-o", str(tmp_path / "missing" / "v1.json")))
    assert [error["field"] for error in errors] == ["-o"]


# --- ruleset_import ------------------------------------------------------------------------------------

def test_export_then_import_gives_the_same_rule_set_as_a_new_draft(administrator, tmp_path):
    draft = rulesets.ruleset_draft_from_preset(code=US, by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_max_age_days": Decimal(14)}, by=administrator)
    rulesets.ruleset_describe(draft=draft, change_note="Checked", by=administrator)
    rulesets.ruleset_publish(draft=RuleSet.objects.get(pk=draft.pk), by=administrator)
    path = tmp_path / "us-labels.json"
    run("ruleset_export", "2", "-o", str(path))
    # The file is renamed (a version's name is its own) and given back a value to be entered.
    document = json.loads(path.read_text())
    document["name"] = "US labels, reviewed"
    document["thresholds"]["alc_max_age_days"] = None
    path.write_text(json.dumps(document))
    status, out, _ = run("ruleset_import", str(path))
    assert (status, out) == (0, "3\n")
    imported, original = RuleSet.objects.get(version=3), ruleset_data(RuleSet.objects.get(version=2))
    data = ruleset_data(imported)
    assert (imported.status, imported.based_on, imported.created_by) == ("draft", None, None)
    assert imported.change_note == \
        f"Imported from us-labels.json; based on {RuleSet.objects.get(version=1).name} version 1"
    assert (data.name, data.enabled_rules, data.products) == ("US labels, reviewed", original.enabled_rules,
                                                               original.products)
    assert data.thresholds == {**original.thresholds, "alc_max_age_days": None}


def test_a_file_read_back_unchanged_gives_the_same_name_rules_thresholds_and_products(administrator, tmp_path):
    draft = rulesets.ruleset_draft_from_preset(code="ebmt_eha", by=administrator)
    path = tmp_path / "ebmt.json"
    run("ruleset_export", str(draft.version), "-o", str(path))
    before = ruleset_data(draft)
    rulesets.ruleset_draft_discard(draft=draft, by=administrator)
    status, out, _ = run("ruleset_import", str(path))
    assert (status, out) == (0, "2\n")  # the next number after the stored versions
    after = ruleset_data(RuleSet.objects.get(version=2))
    assert (after.name, after.enabled_rules, after.thresholds, after.products) == (
        before.name, before.enabled_rules, before.thresholds, before.products)
    assert RuleSet.objects.get(version=2).change_note == \
        f"Imported from ebmt.json; based on {RuleSet.objects.get(version=1).name} version 1"


def test_a_file_based_on_nothing_says_so_and_is_never_published(tmp_path):
    path = version_1_file(tmp_path, name="From another centre")
    assert run("ruleset_import", str(path))[:2] == (0, "2\n")
    imported = RuleSet.objects.get(version=2)
    assert imported.change_note == "Imported from import.json; based on nothing"
    assert (imported.status, RuleSet.objects.get(version=1).status) == ("draft", "active")


def test_import_is_refused_while_a_draft_exists_and_for_a_taken_name_at_once(administrator, tmp_path):
    rulesets.ruleset_draft_create(by=administrator)
    before = stored()
    errors = refused(run("ruleset_import", str(version_1_file(tmp_path))))
    assert errors == [
        {"field": "draft", "message": "draft version 2 exists already: edit, publish or discard it before importing "
                                      "(one draft at a time)"},
        {"field": "name", "message": f"version 1 is named '{RuleSet.objects.get(version=1).name}' already: give the "
                                     "file a name of its own"}]
    assert stored() == before


def test_a_bad_file_is_refused_with_every_error_and_the_existing_draft_too(administrator, tmp_path):
    rulesets.ruleset_draft_create(by=administrator)
    document = json.loads(ruleset_to_file(default_ruleset(), None))
    document["name"] = "Bad"
    document["enabled_rules"] += ["indication", "no_such_rule"]
    document["thresholds"]["fever_c"] = "38"
    document["thresholds"]["ncd_prior_lines"] = 1
    del document["thresholds"]["ecog_below"]
    document["products"]["made_up_product"] = {}
    entry = document["products"]["lisocabtagene_maraleucel"]["indications"][0]
    entry["pathways"][0]["min_prior_lines"] = -1
    entry["colour"] = "blue"
    (tmp_path / "bad.json").write_text(json.dumps(document))
    before = stored()
    fields = [error["field"] for error in refused(run("ruleset_import", str(tmp_path / "bad.json")))]
    for field in ("enabled_rules[", "thresholds.fever_c", "thresholds.ncd_prior_lines", "thresholds.ecog_below",
                  "products.made_up_product", "products.lisocabtagene_maraleucel.indications[0].colour",
                  "products.lisocabtagene_maraleucel.indications[0].pathways[0].min_prior_lines", "draft"):
        assert any(found.startswith(field) for found in fields), (field, fields)
    assert stored() == before


@pytest.mark.parametrize("content, field", [(b"{not json", "$"), (b"\xff\xfe", "$"), (b"[]", "$")])
def test_what_is_not_a_rule_set_file_is_refused(tmp_path, content, field):
    (tmp_path / "x.json").write_bytes(content)
    assert [error["field"] for error in refused(run("ruleset_import", str(tmp_path / "x.json")))][0] == field
    assert RuleSet.objects.count() == 1


def test_a_missing_file_is_refused(tmp_path):
    assert [error["field"] for error in refused(run("ruleset_import", str(tmp_path / "none.json")))] == ["FILE"]


def test_a_name_too_long_for_the_table_is_refused(tmp_path):
    limit = RuleSet._meta.get_field("name").max_length
    assert refused(run("ruleset_import", str(version_1_file(tmp_path, name="x" * (limit + 1))))) == [
        {"field": "name", "message": f"at most {limit} characters (it has {limit + 1})"}]
    assert run("ruleset_import", str(version_1_file(tmp_path, name="x" * limit)))[:2] == (0, "2\n")


# --- ruleset_presets -----------------------------------------------------------------------------------

def test_the_presets_are_listed_with_what_they_leave_to_be_entered_on_the_active_version():
    status, out, _ = run("ruleset_presets")
    assert status == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"code": "us_labels_2025_06", "title": "US labels (June 2025)", "to_be_entered": ["alc_max_age_days"]},
        {"code": "ebmt_eha", "title": "EBMT/EHA best practice",
         "to_be_entered": ["alc_max_age_days", "pre_lymphodepletion_tests_max_days"]}]


def test_a_value_held_by_the_version_is_not_left_to_be_entered(administrator):
    draft = rulesets.ruleset_draft_from_preset(code=US, by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_max_age_days": Decimal(14)}, by=administrator)
    lines = [json.loads(line) for line in run("ruleset_presets", "--ruleset-version", "2")[1].splitlines()]
    assert [line["to_be_entered"] for line in lines] == [[], ["pre_lymphodepletion_tests_max_days"]]
    assert lines == [{"code": code, "title": title,
                      "to_be_entered": draft_from_preset(ruleset_data(RuleSet.objects.get(version=2)), code)
                      .to_be_entered} for code, title in (("us_labels_2025_06", "US labels (June 2025)"),
                                                          ("ebmt_eha", "EBMT/EHA best practice"))]


def test_an_unknown_base_version_is_refused():
    assert [error["field"] for error in refused(run("ruleset_presets", "--ruleset-version", "9"))] == [
        "--ruleset-version"]


# --- As a separate process: the exit status, the bytes on standard output, no traceback ---------------------

@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    database = tmp_path_factory.mktemp("db") / "commands.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": f"sqlite:///{database}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    return env


def manage(environment, *arguments):
    return subprocess.run([sys.executable, "manage.py", *arguments], cwd=ROOT, env=environment, capture_output=True,
                          check=False)


def test_the_commands_as_processes(environment, tmp_path):
    exported = manage(environment, "ruleset_export", "1")
    assert (exported.returncode, exported.stdout) == (0, ruleset_to_file(default_ruleset(), None))
    refusal = manage(environment, "ruleset_import", str(version_1_file(tmp_path)))
    assert refusal.returncode == 2 and b"Traceback" not in refusal.stderr
    assert json.loads(refusal.stdout)["errors"][0]["field"] == "name"
    imported = manage(environment, "ruleset_import", str(version_1_file(tmp_path, name="Copy of version 1")))
    assert (imported.returncode, imported.stdout) == (0, b"2\n")
    presets = manage(environment, "ruleset_presets")
    assert presets.returncode == 0 and len(presets.stdout.splitlines()) == 2


def test_a_value_the_table_cannot_hold_exactly_is_refused(tmp_path):
    document = json.loads(ruleset_to_file(default_ruleset(), None))
    document["name"] = "Precise"
    document["thresholds"]["fever_c"] = Decimal("38.1234")  # 3 decimals are stored
    (tmp_path / "precise.json").write_text(json.dumps(document, default=str).replace('"38.1234"', "38.1234"))
    assert refused(run("ruleset_import", str(tmp_path / "precise.json"))) == [
        {"field": "thresholds.fever_c", "message": "at most 3 decimals and 7 digits before the point"}]
    (tmp_path / "precise.json").write_text(json.dumps(document, default=str).replace('"38.1234"', "38.125"))
    assert run("ruleset_import", str(tmp_path / "precise.json"))[:2] == (0, "2\n")
    assert RuleSet.objects.get(version=2).thresholds.get(key="fever_c").value == Decimal("38.125")
