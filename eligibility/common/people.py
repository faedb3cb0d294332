"""How people are named on records and pages."""

from __future__ import annotations


def display_name(user) -> str:
    """A user's printed name (full name, else the user name); "system" for no user."""
    if user is None:
        return "system"
    return user.get_full_name() or user.get_username()
