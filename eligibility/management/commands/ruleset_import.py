"""``python manage.py ruleset_import FILE``: a new draft from a rule-set file (criteria-v2 2.6).

The draft has the file's name, the next version number and the change note "Imported from <file
name>; based on <name> version <n>" (or "based on nothing"); it is linked to no stored version and
is never published here: it is checked, previewed and published on the rule-set pages as any draft.
Prints the new version number alone on one line."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from eligibility.management.refusals import refuse
from eligibility.rules import RuleSetFileError, ruleset_from_file
from eligibility.rulesets import services as rulesets
from eligibility.rulesets.selectors import NoActiveRuleSet

NOT_STORED = "nothing was stored"


class Command(BaseCommand):
    help = ("Import a rule-set file as a new draft (refused while a draft exists) and print its version number. "
            "It never publishes: preview and publish it on the rule-set pages.")

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="the rule-set file (JSON, UTF-8)")

    def handle(self, *args, file, **options):
        try:
            raw = Path(file).read_bytes()
        except OSError as exc:
            refuse(self, [{"field": "FILE", "message": f"cannot be read ({exc.strerror})"}], what=NOT_STORED)
        try:
            read = ruleset_from_file(raw)
        except RuleSetFileError as exc:
            # Every error in one pass: the file's, and a draft that exists already.
            refuse(self, exc.errors + rulesets.ruleset_import_errors(name=None, data=None), what=NOT_STORED)
        try:
            draft = rulesets.ruleset_import(ruleset_file=read, file_name=Path(file).name)
        except rulesets.RuleSetRefused as refused:
            refuse(self, refused.errors["file"], what=NOT_STORED)
        except NoActiveRuleSet as exc:
            refuse(self, [{"field": "draft", "message": str(exc)}], what=NOT_STORED)
        self.stdout.write(str(draft.version))
