"""Account pages: password change (Django's views and form, our templates), second factor, sign-in locks."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("account/password/", views.PasswordChange.as_view(), name="password_change"),
    path("account/password/done/", auth_views.PasswordChangeDoneView.as_view(
        template_name="accounts/password_change_done.html"), name="password_change_done"),
    path("account/two-factor/", views.otp_overview, name="otp_overview"),
    path("account/two-factor/setup/", views.otp_setup, name="otp_setup"),
    path("account/two-factor/verify/", views.otp_verify, name="otp_verify"),
    path("account/two-factor/recovery-codes/", views.otp_recovery_codes, name="otp_recovery_codes"),
    path("locks/", views.locks, name="locks"),
    path("locks/lift/", views.lock_lift, name="lock_lift"),
]
