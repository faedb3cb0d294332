"""Finish re-evaluating the open assessments under the active rule-set version.

Publishing in the browser does this at once; if that was cut short (a timeout, a restart), this
command does what is left: assessments already evaluated or asked about under the active version
are not done again.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from eligibility.review.reevaluation import reevaluate_open_assessments
from eligibility.rulesets.selectors import ruleset_get


class Command(BaseCommand):
    help = "Re-evaluate open assessments not yet evaluated under the active rule-set version."

    def add_arguments(self, parser):
        parser.add_argument("--as-user", required=True, help="the administrator recorded as having re-evaluated")

    def handle(self, *args, as_user, **options):
        user = get_user_model().objects.filter(username=as_user, groups__name="Administrator").first()
        if user is None:
            raise CommandError(f"'{as_user}' is not an administrator.")
        ruleset = ruleset_get()
        outcome = reevaluate_open_assessments(ruleset=ruleset, by=user)
        self.stdout.write(
            f"Rule set version {ruleset.version}: {outcome.reevaluated} re-evaluated, "
            f"{outcome.review_requested} signed checklist(s) marked for review, {outcome.unchanged_signed} signed "
            f"unchanged, {outcome.unevaluable} that cannot be evaluated (marked for review), "
            f"{outcome.changed_meanwhile} saved by someone meanwhile.")
