"""The tests run with production's transaction behaviour (the test settings build the database
configuration with the same function as every environment)."""

from __future__ import annotations

import importlib

from django.conf import settings
from django.db import connection


def test_the_test_database_has_productions_transaction_settings(monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 50)
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "example.org")
    production = importlib.import_module("config.settings.production")
    ours, theirs = settings.DATABASES["default"], production.DATABASES["default"]
    assert ours["ATOMIC_REQUESTS"] is theirs["ATOMIC_REQUESTS"] is False  # services own short transactions
    if connection.vendor == "sqlite":
        assert ours["OPTIONS"]["transaction_mode"] == "IMMEDIATE"  # writers wait, never "database is locked"
        assert ours["OPTIONS"]["timeout"] >= 5
    else:
        assert ours["CONN_HEALTH_CHECKS"] is True
