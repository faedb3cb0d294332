"""Tests use the application's public names only.

A test that reads or replaces an underscored name of an ``eligibility`` module (a cache, a helper,
a batch function) breaks when the code is reorganised without its behaviour changing, and proves
what the code happens to contain rather than what it does. Where a test needs a hook, the module
offers a documented public one (e.g. ``rulesets.selectors.engine_cache_clear``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
#: Underscored names that are public API all the same: Django's documented ``Model._meta``.
ALLOWED = {"_meta"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and name not in ALLOWED


def private_uses(source: str) -> list[tuple[int, str]]:
    """(line, what) of every private name of an ``eligibility`` module that ``source`` uses: imported
    (``from eligibility.x import _y``, ``import eligibility._x``), read or replaced through a name bound
    to an eligibility import (``x._y``, ``setattr(x, "_y", ...)``, ``monkeypatch.setattr(x, "_y", ...)``,
    ``getattr(x, "_y")``)."""
    tree = ast.parse(source)
    bound: set[str] = set()  # local names that refer to eligibility modules or objects
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "eligibility":
                    bound.add(alias.asname or alias.name.split(".")[0])
                    found += [(node.lineno, alias.name) for part in alias.name.split(".") if _private(part)][:1]
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "eligibility":
            if any(_private(part) for part in node.module.split(".")):
                found.append((node.lineno, node.module))
            for alias in node.names:
                bound.add(alias.asname or alias.name)
                if _private(alias.name):
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in bound:
                found.append((node.lineno, f"{ast.unparse(node.value)}.{node.attr}"))
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            function = ast.unparse(node.func)
            target, name = node.args[0], node.args[1]
            if (function in ("setattr", "getattr", "delattr") or function.endswith((".setattr", ".delattr"))) and (
                    isinstance(name, ast.Constant) and isinstance(name.value, str) and _private(name.value)):
                root = target
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in bound:
                    found.append((node.lineno, f"{ast.unparse(target)}.{name.value}"))
    return sorted(found)


@pytest.mark.parametrize("source", [
    "from eligibility.rulesets import selectors\nselectors._ENGINES.clear()",
    "from eligibility.review import reevaluation\nmonkeypatch.setattr(reevaluation, '_reevaluate_batch', f)",
    "from eligibility.review import reevaluation\nreevaluation._reevaluate_batch = f",
    "from eligibility.rulesets.selectors import _ENGINES",
    "import eligibility.rulesets.selectors as s\ns._product_text(p)",
    "import eligibility\neligibility.rulesets.selectors._ENGINES",
    "from eligibility.rules import engine\ngetattr(engine, '_caches')",
    "from eligibility.models import Patient\nPatient.objects._private_thing()",
])
def test_a_private_name_of_the_application_is_found(source):
    assert private_uses(source)


@pytest.mark.parametrize("source", [
    "from eligibility.rulesets.selectors import engine_cache_clear\nengine_cache_clear()",
    "from eligibility.models import Assessment\nAssessment._meta.db_table",
    "from eligibility.models import Patient\nPatient.__name__",
    "from tests.helpers import form_values\nself._cache = {}\nother._x",  # not the application's
    "import json\njson._default_decoder",
])
def test_public_names_and_other_modules_pass(source):
    assert private_uses(source) == []


def test_no_test_uses_a_private_name_of_the_application():
    offenders = [f"{path.relative_to(ROOT)}:{line}: {what}" for path in sorted(TESTS.rglob("*.py"))
                 for line, what in private_uses(path.read_text())]
    assert offenders == [], "Use the public behaviour or a documented public hook:\n" + "\n".join(offenders)
