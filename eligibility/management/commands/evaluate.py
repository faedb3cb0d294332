"""``python manage.py evaluate``: check cases against the active rule set from the command line."""

from __future__ import annotations

import datetime
import json
import re
import sys
from collections.abc import Iterable
from typing import BinaryIO

import orjson
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from eligibility.rules import (
    PRESETS,
    CaseValidationError,
    Engine,
    RuleSetFileError,
    checklist_text,
    draft_from_preset,
    errors_text,
    ruleset_from_file,
    ruleset_with_settings,
)
from eligibility.rulesets.selectors import NoActiveRuleSet, engine_get, ruleset_data, ruleset_get

INPUT_ERROR = 2
#: Output is written in chunks of this many pieces, about a megabyte (see ``_batch``).
CHUNK_PARTS = 8192


def _as_of(text: str | None) -> datetime.date:
    """The evaluation date of ``--as-of`` (criteria-v2 section 3.1): a real ``YYYY-MM-DD`` date; today
    when not given."""
    if text is None:
        return datetime.date.today()
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(text)


def _example_case(raw: bytes) -> bytes:
    """The case of a worked example (``{"note": ..., "case": {...}, "expected": {...}}``) as JSON text.

    The case itself is then validated as any other; what is not a worked example is refused here.
    """
    try:
        example = json.loads(raw)
    except (ValueError, RecursionError):
        example = None
    if not isinstance(example, dict) or not isinstance(example.get("case"), dict):
        raise CommandError('Not a worked example: expected a JSON object with the case under "case" '
                           "(leave out --example for a file holding the case itself).", returncode=INPUT_ERROR)
    return json.dumps(example["case"]).encode()


class Command(BaseCommand):
    help = (
        "Evaluate one case (a JSON object) or, with --jsonl, a batch of cases (JSON Lines, one case a line) "
        "and print the flagged checklist. Bad input exits with status 2 and names every bad field."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="file to read, or - for standard input")
        parser.add_argument("--format", choices=["text", "json"], default="text",
                            help="text: a readable checklist (default); json: criteria.md section 4")
        parser.add_argument("--jsonl", action="store_true",
                            help="JSON Lines batch: one case a line, results in the same order, streamed")
        parser.add_argument("--ruleset-version", type=int, default=None,
                            help="evaluate under this rule-set version instead of the active one")
        parser.add_argument("--as-of", default=None, metavar="YYYY-MM-DD",
                            help="evaluation date of the cases that record no as_of (default: today)")
        parser.add_argument("--example", action="store_true",
                            help='the file is a worked example of docs/examples ({"case": ..., "expected": ...}): '
                                 "evaluate its case")
        # Rule sets that are not stored (criteria-v2 2.6): evaluated, never saved.
        parser.add_argument("--ruleset-file", default=None, metavar="FILE",
                            help="evaluate under the rule set of this rule-set file (stores nothing)")
        parser.add_argument("--preset", default=None, metavar="CODE",
                            help="evaluate under the draft this preset makes on top of --ruleset-version (default: "
                                 f"the active version); stores nothing. Presets: {', '.join(PRESETS)}")
        parser.add_argument("--set", action="append", default=[], dest="threshold_settings", metavar="KEY=VALUE",
                            help="with --ruleset-file or --preset: set a threshold (repeatable)")

    def handle(self, *args, path, format, jsonl, ruleset_version, example, as_of, **options):
        if example and jsonl:
            raise CommandError("--example reads one worked example, not a batch: leave out --jsonl.",
                               returncode=INPUT_ERROR)
        try:
            # One date for the whole run: a batch that runs past midnight evaluates every case alike.
            self.as_of = _as_of(as_of)
        except ValueError:
            message = "must be a real date written YYYY-MM-DD"
            if format == "json":
                self.stdout.write(orjson.dumps({"errors": [{"field": "--as-of", "message": message}]}).decode())
            raise CommandError(f"--as-of {message} (got {as_of!r}).", returncode=INPUT_ERROR) from None
        try:
            engine = self._engine(ruleset_version, options["ruleset_file"], options["preset"],
                                  options["threshold_settings"])
        except RuleSetFileError as exc:
            self._refuse(exc.errors, format)
        except NoActiveRuleSet as exc:
            raise CommandError(str(exc), returncode=INPUT_ERROR) from None
        except DatabaseError as exc:
            raise CommandError(f"The database is not ready ({exc}): run 'python manage.py migrate'.",
                               returncode=INPUT_ERROR) from None
        try:
            source = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.", returncode=INPUT_ERROR) from None
        sink = getattr(self.stdout, "buffer", None)
        write = sink.write if sink is not None else (lambda data: self.stdout.write(data.decode(), ending=""))
        try:
            if jsonl:
                bad_lines = self._batch(engine, source, write, format)
            else:
                raw = source.read()
                bad_lines = self._single(engine, _example_case(raw) if example else raw, write, format)
        finally:
            if source is not sys.stdin.buffer:
                source.close()
            if sink is not None:
                sink.flush()
        if bad_lines:
            raise CommandError(f"{bad_lines} case(s) rejected: see the messages above.", returncode=INPUT_ERROR)

    @staticmethod
    def _engine(ruleset_version: int | None, ruleset_file: str | None, preset: str | None,
                settings: list[str]) -> Engine:
        """The engine of a stored version, or of a rule set that is not stored: a rule-set file's or
        a preset's on top of a stored version, each with the ``--set`` values (criteria-v2 2.6).
        A refused option or file raises ``RuleSetFileError`` with every error."""
        refused = []
        if settings and ruleset_file is None and preset is None:
            refused.append({"field": "--set", "message": "is accepted only with --ruleset-file or --preset"})
        if ruleset_file is not None and preset is not None:
            refused.append({"field": "--ruleset-file", "message": "excludes --preset: give one of them"})
        if ruleset_file is not None and ruleset_version is not None:
            refused.append({"field": "--ruleset-file", "message": "excludes --ruleset-version: the file is the "
                                                                  "rule set"})
        if preset is not None and preset not in PRESETS:
            refused.append({"field": "--preset", "message": f"is not a preset ({preset}); the presets are "
                                                            f"{', '.join(PRESETS)}"})
        if refused:
            raise RuleSetFileError(refused)
        if ruleset_file is not None:
            try:
                with open(ruleset_file, "rb") as handle:
                    raw = handle.read()
            except OSError as exc:
                raise RuleSetFileError([{"field": "--ruleset-file",
                                         "message": f"cannot be read ({exc.strerror})"}]) from None
            data = ruleset_with_settings(ruleset_from_file(raw).ruleset, settings)
            return Engine(data)
        if preset is not None:
            base = ruleset_data(ruleset_get(version=ruleset_version))
            data = draft_from_preset(base, preset).ruleset
            return Engine(ruleset_with_settings(data, settings, threshold_prefix="--set "))
        return engine_get(version=ruleset_version)

    def _refuse(self, errors: list[dict[str, str]], output_format: str):
        """Print a refused option or rule-set file as a rejected case is printed, and exit with 2."""
        self.stderr.write(f"Refused: {len(errors)} error(s); nothing was evaluated.\n"
                          + "".join(f"  {error['field']}: {error['message']}\n" for error in errors), ending="")
        if output_format == "json":
            self.stdout.write(orjson.dumps({"errors": errors}, option=orjson.OPT_INDENT_2).decode())
        raise CommandError("The rule set options were refused: see the messages above.", returncode=INPUT_ERROR)

    def _single(self, engine: Engine, raw: bytes, write, output_format: str) -> int:
        try:
            checklist = engine.evaluate(engine.parse_json(raw, self.as_of))
        except CaseValidationError as exc:
            self.stderr.write(errors_text(exc.errors, case_id=exc.case_id), ending="")
            if output_format == "json":
                write(orjson.dumps({"case_id": exc.case_id, "errors": exc.errors}, option=orjson.OPT_INDENT_2)
                      + b"\n")
            return 1
        if output_format == "json":
            write(orjson.dumps(checklist.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        else:
            write(checklist_text(checklist).encode())
        return 0

    def _batch(self, engine: Engine, lines: Iterable[bytes] | BinaryIO, write, output_format: str) -> int:
        """Evaluate line by line, writing results in order as they come: constant memory for any length.

        Results are gathered into chunks of about a megabyte before they are written: one checklist
        is larger than a default output buffer, and a system call per case would cost more than
        evaluating it. A checklist goes into the chunk in pieces (its items were encoded when first
        computed), so its bytes are copied once, when the chunk is joined.
        """
        parse, evaluate, as_of = engine.parse_json, engine.evaluate, self.as_of
        in_json = output_format == "json"
        chunk: list[bytes] = []
        bad = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue  # blank lines (a trailing newline, a spacer) carry no case
            try:
                checklist = evaluate(parse(line, as_of))
            except CaseValidationError as exc:
                bad += 1
                self.stderr.write(errors_text(exc.errors, line=number, case_id=exc.case_id), ending="")
                if not in_json:
                    continue
                chunk += (orjson.dumps({"line": number, "case_id": exc.case_id, "errors": exc.errors}), b"\n")
            else:
                if in_json:
                    chunk += checklist.json_parts()
                else:
                    chunk.append(checklist_text(checklist).encode())
                chunk.append(b"\n")
            if len(chunk) >= CHUNK_PARTS:
                write(b"".join(chunk))
                chunk.clear()
        write(b"".join(chunk))
        return bad
