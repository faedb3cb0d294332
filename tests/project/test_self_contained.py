"""The repository stands on its own: no tracked file reads or points outside it.

A clone from the project's host has nothing beside it, so a test, a command, a default or a link
that reaches into a neighbouring folder works only on a developer's machine. CI proves the whole
(``.ci/run`` runs ``make test`` in a fresh clone with nothing beside it); this test names the file
and the line at once.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from tests.conftest import ROOT

GIT = shutil.which("git") or "git"
THIS_FILE = "tests/project/test_self_contained.py"
#: The reference folder beside the project in the workplace (spelled in two parts, so that this
#: file does not itself read as a reference to it).
FOLDER = "sha" + "red"
#: What points outside: the reference folder beside the project, by relative or absolute path or
#: by a path built from the project's parent; the workplace's folders.
OUTSIDE = re.compile(
    rf"\.\./+{FOLDER}"  # a relative path to it
    r"|/work/"  # absolute paths of the workplace
    rf"|\.parent\s*/\s*['\"]{FOLDER}"  # ROOT.parent / "<folder>"
    rf"|parents\[\d+\]\s*/\s*['\"]{FOLDER}"  # Path(...).parents[3] / "<folder>"
    rf"|\b{FOLDER}/(?:examples|docs|sources|hooks)\b"  # its sub-folders named anywhere
)


def tracked_files() -> list[str]:
    listed = subprocess.run([GIT, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in listed.stdout.decode().split("\0") if name]


def test_the_pattern_finds_what_it_is_for():
    for reference in (f"../{FOLDER}/examples/01-clean.json", f"see ../{FOLDER}/docs/criteria.md",
                      f"/work/{FOLDER}/x", f'ROOT.parent / "{FOLDER}" / "examples"',
                      f'Path(__file__).parents[3] / "{FOLDER}"', f"{FOLDER}/sources"):
        assert OUTSIDE.search(reference), reference
    for fine in ("items are shared between checklists", "docs/examples/01-clean.json", "shared_key"):
        assert not OUTSIDE.search(fine), fine


def test_no_tracked_file_refers_outside_the_repository():
    files = tracked_files()
    assert "README.md" in files and "docs/criteria.md" in files
    found = []
    for name in files:
        path = ROOT / name
        if name == THIS_FILE or not path.is_file():  # this file names what it looks for
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # images
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    assert found == []


def test_every_repository_path_the_readme_names_exists():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#\s]+)\)", readme)
    quoted = re.findall(r"`((?:docs|bench|eligibility|config|tests|static|templates)/[\w./-]*)`", readme)
    paths = [path for path in links + quoted if "://" not in path]
    assert "docs/criteria.md" in paths and "docs/examples/" in paths
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert missing == []
