"""Development on a workstation: debug on, SQLite by default, a development-only secret."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Development only: production reads DJANGO_SECRET_KEY and has no default.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="development-only-not-secret-7c1f0e9a")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Static files straight from the finders (no collectstatic before development or tests).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
