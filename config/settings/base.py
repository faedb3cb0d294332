"""Settings shared by every environment, read from the environment (django-environ).

``DATABASE_URL`` selects the database (default: a SQLite file beside the project).
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)  # optional; real deployments set the environment

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])



def database(default_path: Path) -> dict:
    """The database of ``DATABASE_URL`` (default: a SQLite file), with the transaction behaviour
    every environment shares (tests included, so that they run the way production does).

    No request-wide transaction (``ATOMIC_REQUESTS`` off): each service opens its own, short one and
    takes the row locks it needs, so that a long operation such as re-evaluating after a publish
    commits batch by batch instead of holding every lock until the request ends.

    SQLite: writers take the database's write lock when their transaction begins (``BEGIN
    IMMEDIATE``) and wait for it up to ``timeout`` seconds, instead of failing with "database is
    locked" when two transactions that started as readers both try to write; write-ahead logging
    lets readers go on while one writes.
    """
    config = env.db("DATABASE_URL", default=f"sqlite:///{default_path}")
    config["ATOMIC_REQUESTS"] = False
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config.setdefault("OPTIONS", {}).update({
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("DJANGO_SQLITE_TIMEOUT", default=30),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        })
    else:
        # Keep a connection across requests: a signed-in page behind gunicorn on PostgreSQL served about
        # 180 requests/s with a new connection each, 760 with this. Checked before reuse (a restarted database).
        config["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
        config["CONN_HEALTH_CHECKS"] = True
        # Behind PgBouncer in transaction mode a server-side cursor (a streamed read) may meet another
        # client's connection: Django's advice is to turn them off there.
        config["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("DJANGO_DISABLE_SERVER_SIDE_CURSORS", default=False)
        # The hot pages' queries compiled once (eligibility.common.compiled) run as statements the server
        # prepares on their fifth run on a connection (planned once, not on every request). A pooler in
        # transaction mode may not keep them on the connection a client next gets: off there too.
        config.setdefault("OPTIONS", {}).setdefault(
            "prepare_threshold", None if config["DISABLE_SERVER_SIDE_CURSORS"] else 5)
    return config


DATABASES = {"default": database(BASE_DIR / "db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_tasks",
    "django_tasks_db",
    "eligibility",
    "accounts",
    "session_guard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # No copy of any page or file in the browser's cache (static files are answered above).
    "config.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Idle sign-out; a form posted after the session ended is kept for the same user (before
    # LoginRequiredMiddleware, which sends the user to sign in).
    "session_guard.middleware.IdleTimeoutMiddleware",
    # Every page needs a signed-in user unless its view says otherwise (the login page).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Then a second factor where the deployment requires it (OTP_REQUIRED_ROLES) or the user has one,
    "accounts.middleware.OTPRequiredMiddleware",
    # and a user signed in with a one-time password goes to the password change page (each of the two
    # lets the other's pages through: second factor first, then the new password).
    "accounts.middleware.PasswordChangeRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a sign-in that locks out into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

# Content security policy: everything from this server, nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LOGIN_URL = "login"
# Signed out after this many seconds without a request (the page warns SESSION_IDLE_WARNING
# seconds before and offers to stay signed in).
SESSION_IDLE_TIMEOUT = env.int("DJANGO_SESSION_IDLE_TIMEOUT", default=15 * 60)
SESSION_IDLE_WARNING = env.int("DJANGO_SESSION_IDLE_WARNING", default=2 * 60)
LOGIN_REDIRECT_URL = "worklist"
# Four eyes: a rule-set draft is published only after a second administrator (neither its author
# nor anyone who edited it) approved it. Off by default: a programme with one administrator works.
RULESET_PUBLISH_REQUIRES_APPROVAL = env.bool("RULESET_PUBLISH_REQUIRES_APPROVAL", default=False)
LOGOUT_REDIRECT_URL = "login"

# Sign-in lock-out (django-axes): every password form goes through authenticate(), which axes
# watches. After LOCKOUT_FAILURE_LIMIT failures within LOCKOUT_COOLOFF_MINUTES, the user name is
# locked (from any address) and so is the address (for any user name), until the cool-off has
# passed since the last failure or an administrator lifts the lock (page "Sign-in locks").
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "accounts.backends.RoleBackend"]
AXES_FAILURE_LIMIT = env.int("LOCKOUT_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOCKOUT_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts while locked neither count nor push the end of the lock further (the page says when it ends).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.network.client_ip"
# Behind N reverse proxies that each append to X-Forwarded-For, the client is the N-th address
# from the right; 0 (default) ignores the header, which a client could otherwise forge.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Second factor (django-otp): the roles that must use one, e.g. "Administrator,Physician".
OTP_REQUIRED_ROLES: list[str] = [role for role in env.list("OTP_REQUIRED_ROLES", default=[]) if role]
OTP_TOTP_ISSUER = "CAR-T readiness"

# Background work (the re-evaluation after a publish): a queue table in this database, run by
# `manage.py db_worker` (django-tasks-db); `make run` starts one beside the development server.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A re-evaluation whose worker has reported no batch for this long is shown as stalled, with Resume
# (a worker that died, or a machine that restarted, leaves no other trace).
REEVALUATION_STALLED_AFTER = timedelta(seconds=env.int("REEVALUATION_STALLED_SECONDS", default=120))
# Open assessments per part of a re-evaluation: the first worker plans the parts and enqueues a task
# for each other one, so that every task worker running (on any machine) takes one at once.
REEVALUATION_PART_SIZE = env.int("REEVALUATION_PART_SIZE", default=10_000)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Shared templates, then each capability package's own (one app in packages: see the README's layout).
        "DIRS": [BASE_DIR / "templates",
                 *(BASE_DIR / "eligibility" / package / "templates" for package in ("review", "patients", "rulesets"))],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "session_guard.context_processors.session_idle",
            ],
            # {% load vocabulary %}: names and units as screens write them (one app in packages, so
            # the library is named here rather than found in an app's templatetags folder).
            "libraries": {"vocabulary": "eligibility.common.templatetags",
                          "handoffs": "eligibility.review.handoffs.templatetags",
                          "dates": "eligibility.patients.templatetags",
                          "layout": "eligibility.common.layout"},
        },
    },
    {
        # The hot pages (issue 15) and the layout every page shares: Jinja2, in folders of their own
        # (``jinja2/`` beside ``templates/``), so that neither engine ever finds the other's files.
        # The same context processors; ``config/jinja.py`` gives the same vocabulary.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja2",
                 *(BASE_DIR / "eligibility" / package / "jinja2" for package in ("review", "patients", "rulesets"))],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "config.jinja.environment",
            "context_processors": [
                "eligibility.common.jinja.csrf_once",
                "eligibility.common.jinja.url_once",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "session_guard.context_processors.session_idle",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# The programme's one time zone: every time on a page, in the PDF and in the audit export's days is
# in it, and pages say so (DJANGO_TIME_ZONE, its former name, is still read).
TIME_ZONE = env.str("PROGRAMME_TIME_ZONE", default=env.str("DJANGO_TIME_ZONE", default="Europe/London"))
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"one_line_forbidden": {"()": "config.logging.OneLineForbidden"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # WeasyPrint reports every rendering step at INFO.
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"},
                # accounts logs each failed sign-in and lock readably; axes' own lines would repeat them.
                "axes": {"level": "ERROR"},
                "django.request": {"filters": ["one_line_forbidden"]}},
}
