from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    """One Django app, laid out as packages by capability (rules <- rulesets <- patients <- review,
    plus common); see the README's project layout."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "eligibility"
    verbose_name = "CAR-T eligibility"

    def ready(self):
        # Review follows what happens below it (signals and registrations; dependencies point one way).
        # The audit export (accounts) says an assessment's values in the screens' words.
        from django.db.backends.signals import connection_created

        from accounts.audit import describer_register

        from .common import lookups  # noqa: F401 (registers ``__among`` and ``__among_rows``)
        from .common.jsoncodec import json_columns_as_text
        from .common.timestamps import utc_timestamps_in_c
        from .patients.exports import assessment_field_words
        from .review import receivers  # noqa: F401
        from .review.handoffs import receivers as handoff_receivers  # noqa: F401
        describer_register("eligibility.assessment", assessment_field_words)
        connection_created.connect(json_columns_as_text, dispatch_uid="eligibility.json_columns_as_text")
        connection_created.connect(utc_timestamps_in_c, dispatch_uid="eligibility.utc_timestamps_in_c")
