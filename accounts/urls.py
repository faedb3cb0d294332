"""Users' pages and the audit export (administrators); account pages: password change (Django's
view and form, our templates), second factor; sign-in locks (administrators)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("users/", views.users, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_detail, name="user_detail"),
    path("users/<int:pk>/role/", views.user_role, name="user_role"),
    path("users/<int:pk>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("users/<int:pk>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path("users/<int:pk>/password-reset/", views.user_password_reset, name="user_password_reset"),
    path("audit/export/", views.audit_export, name="audit_export"),
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
