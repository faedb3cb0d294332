"""Create the first administrator if there is none. No password is shipped: it comes from
``DJANGO_ADMIN_PASSWORD`` (checked against the password policy, AUTH_PASSWORD_VALIDATORS) or is
generated and printed once."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the first administrator (username from DJANGO_ADMIN_USERNAME, default 'admin') if none exists."

    def handle(self, *args, **options):
        administrators = Group.objects.get(name="Administrator")
        if administrators.user_set.exists():
            self.stdout.write("An administrator exists already; nothing to do.")
            return
        User = get_user_model()
        username = os.environ.get("DJANGO_ADMIN_USERNAME", "admin")
        password = os.environ.get("DJANGO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        try:
            validate_password(password, user=User(username=username))
        except ValidationError as refused:
            raise CommandError("DJANGO_ADMIN_PASSWORD does not meet the password policy: "
                               + " ".join(refused.messages) + " No administrator was created.") from None
        user = User.objects.create_user(username=username, password=password, is_staff=True)
        user.groups.add(administrators)
        if "DJANGO_ADMIN_PASSWORD" in os.environ:
            self.stdout.write(f"Administrator '{username}' created with the password from DJANGO_ADMIN_PASSWORD.")
        else:
            self.stdout.write(self.style.WARNING(
                f"Administrator '{username}' created. Password (shown once, write it down): {password}"))
