"""URL configuration. Patients and evaluations are addressed by opaque identifiers only."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from eligibility import views, views_rulesets
from session_guard import views as session_views

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("login/", login_not_required(auth_views.LoginView.as_view(redirect_authenticated_user=True)), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/<uuid:public_id>/", views.patient_detail, name="patient_detail"),
    path("patients/<uuid:public_id>/intake/<slug:phase>/", views.intake, name="intake"),
    path("patients/<uuid:public_id>/identity/", views.patient_identity, name="patient_identity"),
    path("patients/<uuid:public_id>/withdraw/", views.patient_withdraw, name="patient_withdraw"),
    path("patients/<uuid:public_id>/reopen/", views.workup_reopen, name="workup_reopen"),
    path("patients/withdrawn/", views.withdrawn_patients, name="withdrawn_patients"),
    path("patients/<uuid:public_id>/checklist/", views.checklist, name="checklist"),
    path("evaluations/<uuid:public_id>/", views.evaluation_detail, name="evaluation_detail"),
    path("evaluations/<uuid:public_id>/items/<slug:code>/disposition/", views.disposition, name="disposition"),
    path("evaluations/<uuid:public_id>/sign-off/", views.sign_off, name="sign_off"),
    path("sign-offs/<uuid:public_id>/pdf/", views.signoff_pdf, name="signoff_pdf"),
    path("review-requests/<uuid:public_id>/keep/", views.review_keep, name="review_keep"),
    path("review-requests/<uuid:public_id>/reevaluate/", views.review_reevaluate, name="review_reevaluate"),
    path("rulesets/", views_rulesets.ruleset_list, name="ruleset_list"),
    path("rulesets/<int:version>/", views_rulesets.ruleset_detail, name="ruleset_detail"),
    path("rulesets/<int:version>/preview/", views_rulesets.ruleset_preview, name="ruleset_preview"),
    path("rulesets/<int:version>/product-add/", views_rulesets.ruleset_product_add, name="ruleset_product_add"),
    path("rulesets/<int:version>/products/<slug:code>/", views_rulesets.ruleset_product, name="ruleset_product"),
    path("rulesets/<int:version>/products/<slug:code>/remove/", views_rulesets.ruleset_product_remove,
         name="ruleset_product_remove"),
    path("rulesets/<int:version>/publish/", views_rulesets.ruleset_publish, name="ruleset_publish"),
    path("rulesets/<int:version>/discard/", views_rulesets.ruleset_discard, name="ruleset_discard"),
    path("session/status/", session_views.session_status, name="session_status"),
    path("session/ping/", session_views.session_ping, name="session_ping"),
    path("", include("accounts.urls")),
    path("admin/", admin.site.urls),
]
