"""What the end-to-end tests share: people in roles, signing in, finding a field by its label."""

import re

from django.contrib.auth.models import Group, User
from playwright.sync_api import Page, expect

PASSWORD = "a-long-test-passphrase-1"


def user(username: str, role: str, first: str, last: str) -> User:
    account = User.objects.create_user(username, password=PASSWORD, first_name=first, last_name=last)
    account.groups.add(Group.objects.get(name=role))
    return account


def sign_in(page: Page, base_url: str, username: str) -> None:
    """Open the application, be sent to the login page, sign in and land on the worklist."""
    page.goto(f"{base_url}/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()


def field(scope, label: str):
    """The input labelled ``label`` exactly (a required field's label ends with an asterisk)."""
    return scope.get_by_label(re.compile(r"^\s*" + re.escape(label) + r"\s*\*?\s*$"))


def choose(scope, label: str, option: str) -> None:
    field(scope, label).select_option(label=option)
