"""Logging filters."""

import logging


class OneLineForbidden(logging.Filter):
    """A refused permission (403) is an expected event, not a failure: one line without the
    traceback Django attaches ("Forbidden (Permission denied): <path>"; paths carry opaque
    identifiers only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
