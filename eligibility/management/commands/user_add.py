"""Add a user to a role (Coordinator, Physician, Administrator), creating the user if needed.

A new user is created by ``accounts.services.user_create``, as on the users' page: the creation is
recorded in the audit trail (by "command line"), and the password is one-time, so the user
chooses their own at first sign-in. The password is generated and printed once, or read from
standard input with ``--password-stdin`` (never from the command line, which other users of the
machine can see); either way it meets the password policy (AUTH_PASSWORD_VALIDATORS).
"""

import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.selectors import ROLES


class Command(BaseCommand):
    help = "Create USERNAME if needed (one-time password generated and printed once) and add it to a role."
    stealth_options = ("stdin",)  # the tests give their own standard input

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--name", default="", help="full name, shown on the pages and in the history")
        parser.add_argument("--password-stdin", action="store_true",
                            help="read the new user's password from the first line of standard input")

    def handle(self, *args, username, role, name, password_stdin, **options):
        try:
            group = Group.objects.get(name=role)
        except Group.DoesNotExist:
            raise CommandError("The roles do not exist yet: run 'python manage.py migrate'.") from None
        user = get_user_model().objects.filter(username=username).first()
        if user is not None:
            if password_stdin:
                raise CommandError(f"User '{username}' exists already: user_add does not change passwords "
                                   f"(use 'python manage.py changepassword {username}').")
            user.groups.add(group)
            self.stdout.write(f"User '{username}' added to role {role}.")
            return
        password = None
        if password_stdin:
            stdin = options.get("stdin") or sys.stdin
            password = stdin.readline().rstrip("\r\n")
        try:
            user, password = services.user_create(username=username, full_name=name, role=role, by=None,
                                                  password=password)
        except services.UserChangeRefused as refused:
            raise CommandError(f"{refused} User '{username}' was not created.") from None
        if password_stdin:
            self.stdout.write(f"User '{username}' created in role {role} with the password from standard input "
                              "(one-time: they choose their own at first sign-in).")
        else:
            self.stdout.write(f"User '{username}' created in role {role}; they choose their own password at first "
                              f"sign-in. One-time password (shown once): {password}")
