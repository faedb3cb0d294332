from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Users and audit"

    def ready(self):
        from . import receivers  # noqa: F401 (connects the signal receivers)
