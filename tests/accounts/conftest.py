"""People for the accounts tests, with names (the audit trail prints them)."""

import pytest

from tests.factories import UserFactory


@pytest.fixture
def administrator():
    return UserFactory(username="ada", first_name="Ada", last_name="Admin", role="Administrator")


@pytest.fixture
def coordinator():
    return UserFactory(username="casey", first_name="Casey", last_name="Jones", role="Coordinator")


@pytest.fixture
def physician():
    return UserFactory(username="dr.lee", first_name="Robin", last_name="Lee", role="Physician")
