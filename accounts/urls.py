"""Users' pages, the audit export and the password change page."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

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
    # A minimal password change page (another branch brings the full one: keep one of the two).
    path("account/password/", auth_views.PasswordChangeView.as_view(
        template_name="accounts/password_change_form.html", success_url=reverse_lazy("password_change_done")),
        name="password_change"),
    path("account/password/done/", auth_views.PasswordChangeDoneView.as_view(
        template_name="accounts/password_change_done.html"), name="password_change_done"),
]
