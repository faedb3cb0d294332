from django.apps import AppConfig


class SessionGuardConfig(AppConfig):
    """Idle sign-out with a warning, and no loss of a form posted after the session ended."""

    name = "session_guard"
    verbose_name = "Session guard"

    def ready(self):
        from . import signals  # noqa: F401 (connects the receivers)
