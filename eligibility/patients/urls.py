"""Patient pages (addressed by opaque identifiers only)."""

from django.urls import path

from . import views

urlpatterns = [
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/withdrawn/", views.withdrawn_patients, name="withdrawn_patients"),
    path("patients/<uuid:public_id>/", views.patient_detail, name="patient_detail"),
    path("patients/<uuid:public_id>/intake/<slug:phase>/", views.intake, name="intake"),
    path("patients/<uuid:public_id>/dates/", views.key_dates, name="key_dates"),
    path("patients/<uuid:public_id>/identity/", views.patient_identity, name="patient_identity"),
    path("patients/<uuid:public_id>/withdraw/", views.patient_withdraw, name="patient_withdraw"),
    path("patients/<uuid:public_id>/episodes/new/", views.episode_start, name="episode_start"),
    path("episodes/<uuid:public_id>/", views.episode_detail, name="episode_detail"),
    path("episodes/<uuid:public_id>/close/", views.episode_close, name="episode_close"),
]
