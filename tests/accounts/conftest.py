"""People in roles, and helpers to fail a password form, for the sign-in tests."""

import pytest
from django.conf import settings

from tests.factories import UserFactory


@pytest.fixture
def administrator():
    return UserFactory(role="Administrator", username="ada.admin", is_staff=True)


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", username="casey")


@pytest.fixture
def physician():
    return UserFactory(role="Physician", username="dr.lee")


@pytest.fixture
def limit():
    """The configured number of failures that locks (LOCKOUT_FAILURE_LIMIT, default 5)."""
    assert settings.AXES_FAILURE_LIMIT >= 2
    return settings.AXES_FAILURE_LIMIT
