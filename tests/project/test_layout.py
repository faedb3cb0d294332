"""The layout's rule: one package per capability, dependencies one way.

rules (the pure engine) <- common <- rulesets <- patients <- review. A package imports only
packages at its level or below; the engine imports nothing of Django. A package that must react to
something above it offers a signal or a registration instead (``patients/signals.py``,
``rulesets/signals.py``, ``rulesets/preview.py``'s open-cases provider).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "eligibility"
RANK = {"rules": 0, "common": 1, "rulesets": 2, "patients": 3, "review": 4}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # "from . import x", "from eligibility.rules import case": the names may be modules themselves
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def _package(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "eligibility" and parts[1] in RANK:
        return parts[1]
    return None


def _sources():
    for package in RANK:
        yield from sorted((APP / package).rglob("*.py"))


@pytest.mark.parametrize("path", list(_sources()), ids=lambda path: str(path.relative_to(ROOT)))
def test_a_package_imports_only_packages_at_or_below_its_level(path):
    own = path.relative_to(APP).parts[0]
    upward = [f"line {line}: {target}" for line, target in _imports(path)
              if (_package(target) is not None and RANK[_package(target)] > RANK[own])]
    assert not upward, f"{own} imports a package above it: {upward}"


@pytest.mark.parametrize("path", sorted((APP / "rules").rglob("*.py")), ids=lambda path: path.name)
def test_the_engine_imports_nothing_of_django(path):
    assert not [target for _, target in _imports(path) if target.split(".")[0] == "django"]


def test_the_checker_sees_an_upward_import():
    """The rule above is not vacuous: an import of review from patients is caught."""
    fake = APP / "patients" / "_layout_probe.py"
    fake.write_text("from ..review import services\n")
    try:
        assert any(_package(target) == "review" for _, target in _imports(fake))
    finally:
        fake.unlink()


RULES_SUBMODULES = {path.stem for path in (APP / "rules").glob("*.py")} - {"__init__"}


def _rules_submodule_imports(path: Path) -> list[str]:
    """The imports in ``path`` of a submodule of the engine (``eligibility.rules.case``, ``from
    eligibility.rules import vocabulary``), where only its public interface may be used."""
    return [f"line {line}: {target}" for line, target in _imports(path)
            if target.startswith("eligibility.rules.") and target.split(".")[2] in RULES_SUBMODULES]


def _outside_the_engine():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0].startswith(".") or parts[0] == "node_modules" or parts[:2] == ("eligibility", "rules"):
            continue
        yield path


@pytest.mark.parametrize("path", list(_outside_the_engine()), ids=lambda path: str(path.relative_to(ROOT)))
def test_code_outside_the_engine_uses_its_public_interface_only(path):
    """``eligibility.rules`` exports what others use (``__init__``); its submodules are its own."""
    assert not _rules_submodule_imports(path), "import from eligibility.rules instead"


@pytest.mark.parametrize("line", [
    "from ..rules.case import Case",
    "from ..rules import vocabulary",
    "from eligibility.rules.engine import Engine",
    "import eligibility.rules.thresholds",
])
def test_the_checker_sees_an_import_of_an_engine_submodule(line):
    fake = APP / "patients" / "_layout_probe.py"
    fake.write_text(line + "\n")
    try:
        assert _rules_submodule_imports(fake)
    finally:
        fake.unlink()


def test_the_checker_lets_the_public_interface_through():
    fake = APP / "patients" / "_layout_probe.py"
    fake.write_text("from .. import rules\nfrom ..rules import Engine, checklist_items\nimport eligibility.rules\n")
    try:
        assert not _rules_submodule_imports(fake)
    finally:
        fake.unlink()


def test_every_package_is_checked():
    packages = {path.name for path in APP.iterdir() if (path / "__init__.py").exists()} - {"management", "migrations"}
    assert packages == set(RANK)
