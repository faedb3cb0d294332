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
]
