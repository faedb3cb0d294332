"""docs/criteria.md says what the code does: rules, sources, thresholds, products, keys, samples.

The document is written for people; these tests read it back and compare every fact a reader can
act on with the engine, so that a change of code without the document (or the reverse) fails.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from decimal import Decimal

import msgspec.inspect as schema
import orjson
import pytest
from django.core.management import call_command

from eligibility.rules import (
    DEFAULT_PRODUCTS,
    OVERALL_LABELS,
    RULE_CLASSES,
    STATUSES,
    THRESHOLDS_BY_KEY,
    VERSION_1_RULES,
    VERSION_1_THRESHOLDS,
    Case,
    in_catalogue_order,
)
from tests.conftest import EXAMPLES_DIR, ROOT

#: The rules version 1 enables, in catalogue order: the items of a version-1 checklist.
VERSION_1_CODES = tuple(in_catalogue_order(VERSION_1_RULES))

DOC = (ROOT / "docs" / "criteria.md").read_text()
RULES = {rule.code: rule for rule in RULE_CLASSES}
PHASE_HEADING = re.compile(r"^### 6\.\d .*\(`(\w+)`\)$", re.MULTILINE)
RULE_ENTRY = re.compile(r"(\d+)\. `([a-z_]+)` \((.+?)\)(?=[:,])")


def section(number: str) -> str:
    """The section numbered ``number`` with its subsections (up to the next heading of its level or above)."""
    start = re.search(rf"^(#+) {re.escape(number)} .*$", DOC, re.MULTILINE)
    assert start, number
    level = len(start.group(1))
    end = re.compile(rf"^#{{2,{level}}} ", re.MULTILINE).search(DOC, start.end())
    return DOC[start.start():end.start() if end else None]


def table_rows(text: str) -> list[list[str]]:
    rows = [line.strip().strip("|").split(" | ") for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[1:] if not set(row[0]) <= {"-", " "}]


def codes(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_statuses_and_overall_results():
    assert [codes(row[0])[0] for row in table_rows(section("1."))] == list(STATUSES)
    text = " ".join(section("1.").split())
    positions = [text.index(f"`{result}`") for result in OVERALL_LABELS]
    assert positions == sorted(positions)  # worst first, as the code decides


def test_the_rules_in_catalogue_order_with_their_titles_and_phases():
    rules = section("6.")
    entries = RULE_ENTRY.findall(rules)
    assert [int(number) for number, _, _ in entries] == list(range(1, 27))
    assert [code for _, code, _ in entries] == list(VERSION_1_CODES)
    assert [title for _, _, title in entries] == [RULES[code].title for code in VERSION_1_CODES]
    headings = list(PHASE_HEADING.finditer(rules))
    assert [heading.group(1) for heading in headings] == ["screening", "pre_apheresis", "pre_lymphodepletion",
                                                          "pre_infusion"]
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        part = rules[heading.end():following.start() if following else None]
        for _, code, _ in RULE_ENTRY.findall(part):
            assert RULES[code].phase == heading.group(1), code


def test_every_rule_cites_its_sources_word_for_word():
    rules = section("6.")
    chunks = re.split(r"^\s*Source: (.+)$", rules[:rules.index("### 6.5")], flags=re.MULTILINE)
    cited = {}
    for text, source in zip(chunks[0::2], chunks[1::2], strict=False):
        for _, code, _ in RULE_ENTRY.findall(text):
            cited[code] = source.strip()
    assert cited == {code: RULES[code].source for code in VERSION_1_CODES}


def test_every_threshold_quoted_in_a_rule_has_its_default_and_belongs_to_that_rule():
    rules = " ".join(section("6.").split())
    quoted = re.findall(r"\[`(\w+)` ([\d.]+)\]", rules)
    assert len(quoted) >= 15
    for key, value in quoted:
        assert Decimal(value) == THRESHOLDS_BY_KEY[key].default, key
    named = {key for key, _ in quoted}
    prior_lines = re.search(r"\[`lbcl` (\d+), `fl` (\d+), `mcl` (\d+), `cll` (\d+), `mm` (\d+);", rules)
    for diagnosis, value in zip(("lbcl", "fl", "mcl", "cll", "mm"), prior_lines.groups(), strict=True):
        assert {entry.pathways[0].min_prior_lines for product in DEFAULT_PRODUCTS for entry in product.indications
                if entry.diagnosis == diagnosis} == {int(value)}
    assert named == {spec.key for spec in VERSION_1_THRESHOLDS}  # every threshold is explained with its rule


def test_the_threshold_table():
    rows = table_rows(section("6.5"))
    assert [codes(row[0])[0] for row in rows] == [spec.key for spec in VERSION_1_THRESHOLDS]
    for row, spec in zip(rows, VERSION_1_THRESHOLDS, strict=True):
        _, label, default, unit, kind, allowed, rule = row
        low, high = allowed.split(" to ")
        assert (label, Decimal(default), unit, kind, Decimal(low), Decimal(high), codes(rule)[0]) == (
            spec.label, spec.default, spec.unit or "-", spec.kind, spec.minimum, spec.maximum, spec.rule)


def test_the_product_catalogue():
    rows = table_rows(section("5."))
    assert [codes(row[0])[0] for row in rows] == [product.code for product in DEFAULT_PRODUCTS]
    for (_, name, target, diagnoses, limits), product in zip(rows, DEFAULT_PRODUCTS, strict=True):
        assert (name, target, set(codes(diagnoses))) == (product.name, product.target, set(product.diagnoses))
        assert ("investigational" in limits) == product.investigational
        assert ("accepts cryopreserved" in limits) == product.accepts_cryopreserved
        limited = [entry for entry in product.indications
                   if entry.min_age_years is not None or entry.max_age_years is not None]
        for entry in limited:
            if entry.max_age_years is not None:
                assert f"in `{entry.diagnosis}`: age at most {entry.max_age_years}" in limits
            if entry.min_age_years is not None:
                assert f"in `{entry.diagnosis}`: age at least {entry.min_age_years}" in limits
        assert set(re.findall(r"in `(\w+)`: age", limits)) == {entry.diagnosis for entry in limited}


def case_paths() -> set[str]:
    paths = set()
    for field in schema.type_info(Case).fields:
        member = field.type
        if isinstance(member, schema.UnionType):
            structs = [t for t in member.types if isinstance(t, schema.StructType)]
            if field.name in ("infections", "organ_function", "labs", "gvhd", "washout") and structs:
                paths |= {f"{field.name}.{sub.name}" for sub in structs[0].fields}
                continue
        paths.add(field.name)
    return paths


def test_the_case_input_table_names_every_key():
    named = set()
    for row in table_rows(section("3.")):
        group = None
        for name in codes(row[0]):
            if name.startswith("."):
                name = f"{group}{name}"
            group = name.rsplit(".", 1)[0] if "." in name else None
            named.add(name)
    assert named == case_paths()


@pytest.mark.django_db
def test_the_json_sample_is_what_evaluate_prints():
    sample = re.search(r"^```json\n(.*?)^```$", section("4."), re.MULTILINE | re.DOTALL).group(1)
    shown = json.loads(sample)
    out = io.StringIO()
    call_command("evaluate", "--example", "--format", "json", str(EXAMPLES_DIR / "04-screening-ecog2.json"),
                 stdout=out)
    printed = json.loads(out.getvalue())
    kept = [item for item in printed["items"] if item["code"] in {item["code"] for item in shown["items"]}]
    assert len(kept) == len(shown["items"]) == 3
    assert sample == orjson.dumps({**printed, "items": kept}, option=orjson.OPT_INDENT_2).decode() + "\n"


def test_the_input_error_sample_is_what_evaluate_writes(shell_environment):
    sample = re.search(r"^```\n(Rejected .*?)^```$", section("7."), re.MULTILINE | re.DOTALL).group(1)
    result = subprocess.run([sys.executable, "manage.py", "evaluate", "--example", "docs/examples/05-bad-input.json"],
                            cwd=ROOT, env=shell_environment, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == sample
