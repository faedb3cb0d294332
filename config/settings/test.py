"""Test runs: a fast password hasher and plain static storage (live_server needs no manifest).

The database is SQLite unless ``DATABASE_URL`` says otherwise (CI runs on PostgreSQL).
"""

from .base import *  # noqa: F403
from .base import BASE_DIR, database

SECRET_KEY = "test-only-not-secret"  # noqa: S105 (tests only)
DEBUG = False
# The same transaction behaviour as production (``database`` in base), on a database of its own.
DATABASES = {"default": database(BASE_DIR / "test.sqlite3")}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Static files straight from the finders (no collectstatic before development or tests).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not SQLite's shared in-memory database: the concurrency tests run several connections
    # at once, and a shared in-memory database locks whole tables without waiting (no busy timeout).
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-run.sqlite3")}
