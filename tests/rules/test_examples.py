"""Every worked case of docs/examples through ``manage.py evaluate``, as a user runs it."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from eligibility.rules import VERSION_1_RULES, in_catalogue_order
from tests.conftest import EXAMPLES_DIR, load_examples

#: The rules version 1 enables, in catalogue order: the items of a version-1 checklist.
VERSION_1_CODES = tuple(in_catalogue_order(VERSION_1_RULES))

EXAMPLES = load_examples()
GOOD = [(name, example) for name, example in EXAMPLES if "error_fields" not in example["expected"]]
BAD = [(name, example) for name, example in EXAMPLES if "error_fields" in example["expected"]]


def test_the_examples_are_there():
    assert len(GOOD) >= 4
    assert len(BAD) >= 1


def run_evaluate(tmp_path, case, *options):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    out, err = io.StringIO(), io.StringIO()
    call_command("evaluate", str(path), *options, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "example"), GOOD, ids=[name for name, _ in GOOD])
def test_example_gives_its_expected_result(tmp_path, name, example):
    out, err = run_evaluate(tmp_path, example["case"], "--format", "json")
    checklist = json.loads(out)
    assert err == ""
    assert checklist["overall"] == example["expected"]["overall"]
    assert {item["code"]: item["status"] for item in checklist["items"]} == example["expected"]["items"]
    assert [item["code"] for item in checklist["items"]] == list(VERSION_1_CODES)
    assert checklist["case_id"] == example["case"]["case_id"]
    assert checklist["ruleset"] == {"name": "Default (source documents)", "version": 1}
    for item in checklist["items"]:
        assert item["reason"]
        assert item["source"]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "example"), GOOD, ids=[name for name, _ in GOOD])
def test_example_as_text_names_the_overall_result_and_every_rule(tmp_path, name, example):
    out, _ = run_evaluate(tmp_path, example["case"])
    overall = example["expected"]["overall"]
    assert f"({overall})" in out
    for code in VERSION_1_CODES:
        assert f"({code})" in out


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "example"), BAD, ids=[name for name, _ in BAD])
def test_bad_example_is_rejected_naming_each_bad_field(tmp_path, name, example):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(example["case"]))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("evaluate", str(path), "--format", "json", stdout=out, stderr=err)
    assert raised.value.returncode == 2
    rejected = json.loads(out.getvalue())
    assert "items" not in rejected  # no checklist
    assert [error["field"] for error in rejected["errors"]] == example["expected"]["error_fields"]
    for field in example["expected"]["error_fields"]:
        assert f"{field}:" in err.getvalue()


def test_the_batch_file_holds_the_case_of_every_example_in_order():
    lines = (EXAMPLES_DIR / "batch.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [example["case"] for _, example in EXAMPLES]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "example"), GOOD, ids=[name for name, _ in GOOD])
def test_example_file_as_it_is_with_the_example_option(name, example):
    out, err = io.StringIO(), io.StringIO()
    call_command("evaluate", "--example", "--format", "json", str(EXAMPLES_DIR / name), stdout=out, stderr=err)
    checklist = json.loads(out.getvalue())
    assert {item["code"]: item["status"] for item in checklist["items"]} == example["expected"]["items"]
