"""``python manage.py ruleset_presets [--ruleset-version N]``: the presets (criteria-v2 2.4, 2.6),
one JSON object a line: ``{"code", "title", "to_be_entered": [sorted keys]}``, the keys a draft made
from the preset on top of version N (default: the active version) would hold without a value."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from eligibility.management.refusals import refuse
from eligibility.rules import PRESETS, draft_from_preset
from eligibility.rulesets.models import RuleSet
from eligibility.rulesets.selectors import NoActiveRuleSet, ruleset_data, ruleset_get


class Command(BaseCommand):
    help = ("List the presets, one JSON object a line, with the thresholds each would leave to be entered on top "
            "of the active version (or --ruleset-version N).")

    def add_arguments(self, parser):
        parser.add_argument("--ruleset-version", type=int, default=None, metavar="N",
                            help="the version the presets are applied to (default: the active version)")

    def handle(self, *args, ruleset_version, **options):
        try:
            base = ruleset_data(ruleset_get(version=ruleset_version))
        except NoActiveRuleSet:
            versions = ", ".join(str(number) for number in RuleSet.objects.values_list("version", flat=True))
            refuse(self, [{"field": "--ruleset-version",
                           "message": f"there is no rule-set version {ruleset_version} (versions: {versions or 'none'})"
                           if ruleset_version is not None else "there is no active rule set: run 'python manage.py "
                                                               "migrate'"}], what="nothing was listed")
        for code, preset in PRESETS.items():
            self.stdout.write(json.dumps({"code": code, "title": preset.title,
                                          "to_be_entered": draft_from_preset(base, code).to_be_entered},
                                         ensure_ascii=False))
