"""People in roles, with names (the audit trail prints them), and the lock-out limit, for the
accounts tests (users, audit export, sign-in)."""

import pytest
from django.conf import settings

from tests.factories import UserFactory


@pytest.fixture
def administrator():
    # Staff, as user_add and the users' pages make an administrator (the admin sign-in needs it).
    return UserFactory(username="ada", first_name="Ada", last_name="Admin", role="Administrator", is_staff=True)


@pytest.fixture
def coordinator():
    return UserFactory(username="casey", first_name="Casey", last_name="Jones", role="Coordinator")


@pytest.fixture
def physician():
    return UserFactory(username="dr.lee", first_name="Robin", last_name="Lee", role="Physician")


@pytest.fixture
def limit():
    """The configured number of failures that locks (LOCKOUT_FAILURE_LIMIT, default 5)."""
    assert settings.AXES_FAILURE_LIMIT >= 2
    return settings.AXES_FAILURE_LIMIT
