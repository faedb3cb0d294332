"""Add a user to a role (Coordinator, Physician, Administrator), creating the user if needed."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

ROLES = ("Coordinator", "Physician", "Administrator")


class Command(BaseCommand):
    help = "Create USERNAME if needed (password generated and printed once) and add it to a role."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--name", default="", help="full name, shown on the pages and in the history")

    def handle(self, *args, username, role, name, **options):
        User = get_user_model()
        first, _, last = name.partition(" ")
        user, created = User.objects.get_or_create(username=username,
                                                   defaults={"first_name": first, "last_name": last})
        password = None
        if created:
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.is_staff = role == "Administrator"
            user.save()
        try:
            user.groups.add(Group.objects.get(name=role))
        except Group.DoesNotExist:
            raise CommandError("The roles do not exist yet: run 'python manage.py migrate'.") from None
        if password:
            self.stdout.write(f"User '{username}' created in role {role}. Password (shown once): {password}")
        else:
            self.stdout.write(f"User '{username}' added to role {role}.")
