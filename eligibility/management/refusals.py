"""How the rule-set commands refuse (criteria-v2 2.6): every error as a ``{"field", "message"}``
object, in one pass, as ``evaluate`` prints a rejected case; no traceback, nothing stored, exit
status 2."""

from __future__ import annotations

import orjson
from django.core.management.base import BaseCommand, CommandError

INPUT_ERROR = 2


def refuse(command: BaseCommand, errors: list[dict[str, str]], *, what: str) -> None:
    """Print ``errors`` (as text on standard error, as a JSON ``{"errors": [...]}`` object on
    standard output for a program to read) and exit with status 2. ``what``: what was not done."""
    command.stderr.write(f"Refused: {len(errors)} error(s); {what}.\n"
                         + "".join(f"  {error['field']}: {error['message']}\n" for error in errors), ending="")
    command.stdout.write(orjson.dumps({"errors": errors}, option=orjson.OPT_INDENT_2).decode())
    raise CommandError("Refused: see the messages above.", returncode=INPUT_ERROR)
