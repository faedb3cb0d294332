"""The database settings read from the environment: connections kept across requests on PostgreSQL
(checked before reuse), server-side cursors off only when asked (PgBouncer in transaction mode)."""

from __future__ import annotations

import pytest

from config.settings.base import database

POSTGRES = "postgres://app:secret@db.example.org:5432/cart"


@pytest.fixture
def environment(monkeypatch):
    for name in ("DATABASE_URL", "DJANGO_CONN_MAX_AGE", "DJANGO_DISABLE_SERVER_SIDE_CURSORS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_postgresql_keeps_connections_and_checks_them(environment, tmp_path):
    environment.setenv("DATABASE_URL", POSTGRES)
    config = database(tmp_path / "db.sqlite3")
    assert config["CONN_MAX_AGE"] == 60 and config["CONN_HEALTH_CHECKS"] is True
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert config["ATOMIC_REQUESTS"] is False
    assert config["OPTIONS"]["prepare_threshold"] == 5  # hot queries prepared on their fifth run


def test_server_side_cursors_off_behind_a_transaction_pooler(environment, tmp_path):
    environment.setenv("DATABASE_URL", POSTGRES)
    environment.setenv("DJANGO_DISABLE_SERVER_SIDE_CURSORS", "true")
    environment.setenv("DJANGO_CONN_MAX_AGE", "0")
    config = database(tmp_path / "db.sqlite3")
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True and config["CONN_MAX_AGE"] == 0
    assert config["OPTIONS"]["prepare_threshold"] is None  # nor prepared statements


def test_sqlite_takes_the_write_lock_when_a_transaction_begins(environment, tmp_path):
    config = database(tmp_path / "db.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "DISABLE_SERVER_SIDE_CURSORS" not in config and "CONN_MAX_AGE" not in config
    assert "prepare_threshold" not in config["OPTIONS"]
