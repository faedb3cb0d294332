"""People in roles for the tests of this folder (a module may define its own, e.g. with a name)."""

import pytest

from tests.factories import UserFactory


@pytest.fixture
def administrator():
    return UserFactory(role="Administrator")


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator")


@pytest.fixture
def physician():
    return UserFactory(role="Physician")
