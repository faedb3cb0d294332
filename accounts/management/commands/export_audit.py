"""Export the audit trail for a date range as CSV or JSON (the same file as the page gives)."""

import datetime as dt
import getpass

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.audit import export_stream
from accounts.models import AuditExport


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"'{text}' is not a date: write YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = ("Write the audit trail from --from to --to (whole days, both included, in the project's time zone) "
            "as CSV or JSON to standard output or --output FILE. The export is recorded in the audit trail.")

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("--format", choices=AuditExport.Format.values, default=AuditExport.Format.CSV)
        parser.add_argument("--output", help="file to write (default: standard output)")

    def handle(self, *args, date_from, date_to, format, output, **options):
        start, end = _date(date_from), _date(date_to)
        if start > end:
            raise CommandError(f"--to ({end}) must be on or after --from ({start}).")
        try:
            by_name = f"{services.COMMAND_LINE} (system user {getpass.getuser()})"
        except (KeyError, OSError):  # no login name in some containers
            by_name = services.COMMAND_LINE
        export = services.audit_export_start(by=None, by_name=by_name, date_from=start, date_to=end, format=format,
                                             channel=AuditExport.Channel.COMMAND)
        if output:
            with open(output, "w", encoding="utf-8", newline="") as file:
                for piece in export_stream(export):
                    file.write(piece)
            self.stderr.write(f"{export.row_count} rows written to {output}.")
        else:
            for piece in export_stream(export):
                self.stdout.write(piece, ending="")
