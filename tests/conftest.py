"""Shared fixtures."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT.parent / "shared" / "examples"


def load_examples() -> list[tuple[str, dict]]:
    """The worked cases of shared/examples: (file name, {"case", "expected", ...})."""
    return [(path.name, json.loads(path.read_text())) for path in sorted(EXAMPLES_DIR.glob("*.json"))]


@pytest.fixture
def examples():
    return load_examples()
