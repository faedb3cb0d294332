"""Hand-off pages (patients, checklists and questions by opaque identifiers only)."""

from django.urls import path

from . import views

urlpatterns = [
    path("patients/<uuid:public_id>/ready/", views.ready_mark, name="ready_mark"),
    path("patients/<uuid:public_id>/ready/withdraw/", views.ready_mark_withdraw, name="ready_mark_withdraw"),
    path("patients/<uuid:public_id>/notes/", views.patient_note, name="patient_note"),
    path("evaluations/<uuid:public_id>/items/<slug:code>/notes/", views.item_note, name="item_note"),
    path("evaluations/<uuid:public_id>/items/<slug:code>/questions/", views.question_ask, name="question_ask"),
    path("questions/<uuid:public_id>/", views.question_detail, name="question_detail"),
    path("questions/<uuid:public_id>/answer/", views.question_answer, name="question_answer"),
    path("questions/<uuid:public_id>/follow-up/", views.question_follow_up, name="question_follow_up"),
    path("questions/<uuid:public_id>/close/", views.question_close, name="question_close"),
]
