"""On sign-in, entries kept for anyone else are forgotten (never shown to another user)."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .restore import discard_others


@receiver(user_logged_in)
def forget_other_users_entries(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        discard_others(request.session, user.pk)
