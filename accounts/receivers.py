"""Signal receivers: the one-time-password flag follows every password saved for a user."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Account


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.password_saved")
def password_saved(sender, instance, raw=False, **kwargs):
    """Set ``must_change_password`` when a one-time password is saved, clear it when any other
    password is (the password change page, a command, the administration site).

    ``_password`` is Django's own marker that ``set_password`` was called before this save (it is
    cleared for mere hash upgrades at sign-in, which are not password changes).
    """
    if raw or getattr(instance, "_password", None) is None:
        return
    one_time = getattr(instance, "password_is_one_time", False)
    Account.objects.update_or_create(user=instance, defaults={"must_change_password": one_time})
    instance.password_is_one_time = False
