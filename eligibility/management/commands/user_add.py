"""Add a user to a role (Coordinator, Physician, Administrator), creating the user if needed.

The password is generated and printed once, or read from standard input with
``--password-stdin`` (never from the command line, which other users of the machine can see);
either way it must meet the password policy (AUTH_PASSWORD_VALIDATORS).
"""

import secrets
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

ROLES = ("Coordinator", "Physician", "Administrator")


class Command(BaseCommand):
    help = "Create USERNAME if needed (password generated and printed once) and add it to a role."
    stealth_options = ("stdin",)  # the tests give their own standard input

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--name", default="", help="full name, shown on the pages and in the history")
        parser.add_argument("--password-stdin", action="store_true",
                            help="read the new user's password from the first line of standard input")

    def handle(self, *args, username, role, name, password_stdin, **options):
        User = get_user_model()
        first, _, last = name.partition(" ")
        try:
            group = Group.objects.get(name=role)
        except Group.DoesNotExist:
            raise CommandError("The roles do not exist yet: run 'python manage.py migrate'.") from None
        exists = User.objects.filter(username=username).exists()
        if exists and password_stdin:
            raise CommandError(f"User '{username}' exists already: user_add does not change passwords "
                               f"(use 'python manage.py changepassword {username}').")
        password = None
        if not exists:
            stdin = options.get("stdin") or sys.stdin
            password = stdin.readline().rstrip("\r\n") if password_stdin else secrets.token_urlsafe(12)
            candidate = User(username=username, first_name=first, last_name=last)
            try:
                validate_password(password, user=candidate)
            except ValidationError as refused:
                raise CommandError("The password does not meet the password policy: " + " ".join(refused.messages)
                                   + f" User '{username}' was not created.") from None
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": first, "last_name": last})
        if created:
            user.set_password(password)
            user.is_staff = role == "Administrator"
            user.save()
        user.groups.add(group)
        if created and not password_stdin:
            self.stdout.write(f"User '{username}' created in role {role}. Password (shown once): {password}")
        elif created:
            self.stdout.write(f"User '{username}' created in role {role} with the password from standard input.")
        else:
            self.stdout.write(f"User '{username}' added to role {role}.")
