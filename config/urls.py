"""URL configuration. Patients and evaluations are addressed by opaque identifiers only."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from session_guard import views as session_views

from . import views

urlpatterns = [
    path("login/", login_not_required(auth_views.LoginView.as_view(redirect_authenticated_user=True)), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("eligibility.review.urls")),
    path("", include("eligibility.patients.urls")),
    path("", include("eligibility.rulesets.urls")),
    path("session/status/", session_views.session_status, name="session_status"),
    path("session/ping/", session_views.session_ping, name="session_ping"),
    path("", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("hello/", views.hello, name="hello"),  # the benchmarks' floor (bench/bench_web.py)
]
