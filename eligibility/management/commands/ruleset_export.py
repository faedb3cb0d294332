"""``python manage.py ruleset_export N [-o FILE]``: rule-set version N (any status) as a rule-set
file (criteria-v2 2.6), to standard output or to FILE; the bytes of the version page's download."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from eligibility.management.refusals import refuse
from eligibility.rulesets.models import RuleSet
from eligibility.rulesets.selectors import ruleset_file_bytes


class Command(BaseCommand):
    help = "Write rule-set version N (any status) as a rule-set file (JSON), to standard output or to -o FILE."

    def add_arguments(self, parser):
        parser.add_argument("version", type=int, metavar="N", help="the rule-set version number")
        parser.add_argument("-o", "--output", default=None, metavar="FILE", help="write to FILE (replaced)")

    def handle(self, *args, version, output, **options):
        ruleset = RuleSet.objects.select_related("based_on").filter(version=version).first()
        if ruleset is None:
            versions = ", ".join(str(number) for number in RuleSet.objects.values_list("version", flat=True))
            refuse(self, [{"field": "N", "message": f"there is no rule-set version {version} (versions: "
                                                    f"{versions or 'none'})"}], what="nothing was written")
        raw = ruleset_file_bytes(ruleset)
        if output is None:
            sink = getattr(self.stdout, "buffer", None)
            if sink is not None:
                sink.write(raw)
                sink.flush()
            else:  # a test's StringIO: text (the file is UTF-8)
                self.stdout.write(raw.decode("utf-8"), ending="")
            return
        try:
            with open(output, "wb") as handle:
                handle.write(raw)
        except OSError as exc:
            refuse(self, [{"field": "-o", "message": f"cannot be written ({exc.strerror})"}],
                   what="nothing was written")
