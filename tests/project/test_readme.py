"""The README's commands run as written from a clone, and its sample output is what they print.

The command-line section's commands run in a shell from the project's folder, as a reader types
them after ``make run``; the only difference is the database, a migrated SQLite file of the test's
own instead of the ``db.sqlite3`` that ``make run`` creates.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

BASH = shutil.which("bash") or "/bin/bash"
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def shell_commands(block: str) -> list[tuple[str, str]]:
    """The commands of a ``sh`` block as ``(command, comment)``: lines are joined where a command goes
    on (a trailing backslash, an open quote, a next line starting with a pipe); a comment starts after
    two spaces."""
    commands, pending, comments = [], "", []
    lines = block.splitlines()
    for index, line in enumerate(lines):
        code, _, comment = line.partition("  # ")
        pending += code.rstrip() + "\n"
        comments.append(comment.strip())
        following = lines[index + 1].lstrip() if index + 1 < len(lines) else ""
        try:
            shlex.split(pending)
        except ValueError:  # an open quote: the command goes on
            continue
        if pending.rstrip().endswith("\\") or following.startswith("|"):
            continue
        commands.append((pending.strip(), " ".join(filter(None, comments))))
        pending, comments = "", []
    assert not pending.strip(), f"unfinished command: {pending}"
    return commands


def console_sessions(block: str) -> list[tuple[str, str]]:
    """``$ command`` lines of a ``console`` block, each with the output lines that follow it."""
    sessions = []
    for line in block.splitlines(keepends=True):
        if line.startswith("$ "):
            sessions.append([line[2:].strip(), ""])
        else:
            assert sessions, "output before any command"
            sessions[-1][1] += line
    return [(command, output) for command, output in sessions]


def run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, "-c", command], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


CLI = section("Checking a case from the command line")
COMMANDS = [command for block in blocks(CLI, "sh") for command in shell_commands(block)]
SAMPLES = [session for block in blocks(CLI, "console") for session in console_sessions(block)]


def test_the_section_shows_commands_and_a_sample():
    assert len(COMMANDS) >= 4
    assert len(SAMPLES) >= 1
    assert all(".venv/bin/python manage.py evaluate" in command for command, _ in COMMANDS + SAMPLES)


@pytest.mark.parametrize(("command", "comment"), COMMANDS, ids=[comment for _, comment in COMMANDS])
def test_each_command_runs_as_written(shell_environment, command, comment):
    result = run(command, shell_environment)
    expected_status = 2 if "exit status 2" in comment else 0
    assert result.returncode == expected_status, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip()
    if "--format json" in command:
        objects = [line for line in result.stdout.splitlines() if line.strip()]
        assert objects[0].lstrip().startswith("{")


@pytest.mark.parametrize(("command", "output"), SAMPLES, ids=[command for command, _ in SAMPLES])
def test_the_sample_output_is_what_the_command_prints(shell_environment, command, output):
    result = run(command, shell_environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout == output


def test_the_batch_comment_tells_the_truth_about_line_5(shell_environment):
    batch = next(command for command, _ in COMMANDS if "--jsonl" in command)
    lines = run(batch, shell_environment).stdout.splitlines()
    assert len(lines) == 5
    assert '"line":5' in lines[4] and '"errors"' in lines[4]


FILES = section("Rule sets as files")
FILE_COMMANDS = [command for block in blocks(FILES, "sh") for command in shell_commands(block)]


@pytest.fixture
def files_environment(tmp_path):
    """A migrated database of its own (the commands make a draft) and a folder of its own for the
    files they write: the commands run there as written, ``manage.py`` named by its full path."""
    import os
    import sys
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    (tmp_path / "work").mkdir()
    return env, tmp_path / "work"


def test_the_rule_set_file_commands_run_as_written_in_order(files_environment):
    env, folder = files_environment
    assert len(FILE_COMMANDS) >= 4
    assert {"ruleset_presets", "ruleset_export", "ruleset_import"} <= {
        word for command, _ in FILE_COMMANDS for word in command.split()}
    for command, comment in FILE_COMMANDS:
        command = command.replace(".venv/bin/python manage.py", f"{ROOT}/.venv/bin/python {ROOT}/manage.py")
        result = subprocess.run([BASH, "-c", command], cwd=folder, env=env, capture_output=True, text=True,
                                timeout=120, check=False)
        assert result.returncode == (2 if "exit status 2" in comment else 0), (command, result.stderr)
        assert "Traceback" not in result.stderr
        if "ruleset_import" in command and result.returncode == 0:
            assert result.stdout == "2\n"  # the new draft's version number alone
        elif "-o " not in command:
            assert result.stdout.strip()
    assert (folder / "ruleset-version-1.json").read_bytes().startswith(b'{\n  "format": "cart-ruleset"')
