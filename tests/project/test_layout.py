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
            # "from . import x" / "from .. import x": the names may be packages themselves
            if not node.module:
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


def test_every_package_is_checked():
    packages = {path.name for path in APP.iterdir() if (path / "__init__.py").exists()} - {"management", "migrations"}
    assert packages == set(RANK)
