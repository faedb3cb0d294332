"""Shared fixtures."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The worked examples of the documentation (README, docs/criteria.md), one case and its expected result each.
EXAMPLES_DIR = ROOT / "docs" / "examples"


def load_examples() -> list[tuple[str, dict]]:
    """The worked cases of docs/examples: (file name, {"note", "case", "expected"})."""
    return [(path.name, json.loads(path.read_text())) for path in sorted(EXAMPLES_DIR.glob("*.json"))]


@pytest.fixture
def examples():
    return load_examples()


@pytest.fixture(autouse=True)
def _fresh_engine_cache():
    """Engines of published versions are cached per process by (primary key, version): a version
    never changes once published, but a test's rollback lets the next test reuse the same key for
    different values."""
    from eligibility import selectors

    selectors._ENGINES.clear()
    yield
    selectors._ENGINES.clear()
