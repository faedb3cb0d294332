"""Re-evaluate the open assessments under the active rule-set version, by hand.

After a publish a task worker does this in the background (its progress on the version's page);
this command does the same work in the foreground, e.g. where no worker runs: assessments already
evaluated or asked about under the active version are not done again, and a re-evaluation that a
worker is running now is left to it.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.crypto import get_random_string

from eligibility.review.reevaluation import reevaluate_open_assessments, reevaluation_run
from eligibility.rulesets.models import RuleSetReevaluation
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
        record = RuleSetReevaluation.objects.filter(ruleset=ruleset).first()
        if record is None or record.status == RuleSetReevaluation.Status.FINISHED:
            outcome = reevaluate_open_assessments(ruleset=ruleset, by=user)
        else:
            # The publish's re-evaluation, recorded as the page shows it (this command holds its lease).
            outcome = reevaluation_run(reevaluation_id=record.pk, worker=f"command-{get_random_string(20)}", by=user)
            if outcome is None:
                record.refresh_from_db()
                self.stdout.write(f"Rule set version {ruleset.version}: a task worker is re-evaluating now "
                                  f"({record.done} of {record.total} done); nothing was done here.")
                return
        self.stdout.write(
            f"Rule set version {ruleset.version}: {outcome.reevaluated} re-evaluated, "
            f"{outcome.review_requested} signed checklist(s) marked for review, {outcome.unchanged_signed} signed "
            f"unchanged, {outcome.unevaluable} that cannot be evaluated (marked for review), "
            f"{outcome.changed_meanwhile} saved by someone meanwhile.")
