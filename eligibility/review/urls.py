"""Review pages: the worklist (home), checklists, decisions, signatures, PDFs, review requests."""

from django.urls import include, path

from . import views, week_views

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("this-week/", week_views.this_week, name="this_week"),
    path("patients/<uuid:public_id>/checklist/", views.checklist, name="checklist"),
    path("patients/<uuid:public_id>/reopen/", views.workup_reopen, name="workup_reopen"),
    path("evaluations/<uuid:public_id>/", views.evaluation_detail, name="evaluation_detail"),
    path("evaluations/<uuid:public_id>/items/<slug:code>/disposition/", views.disposition, name="disposition"),
    path("evaluations/<uuid:public_id>/decisions/<slug:action>/", views.dispositions_bulk, name="dispositions_bulk"),
    path("evaluations/<uuid:public_id>/sign-off/", views.sign_off, name="sign_off"),
    path("sign-offs/<uuid:public_id>/pdf/", views.signoff_pdf, name="signoff_pdf"),
    path("review-requests/<uuid:public_id>/keep/", views.review_keep, name="review_keep"),
    path("review-requests/<uuid:public_id>/reevaluate/", views.review_reevaluate, name="review_reevaluate"),
    path("", include("eligibility.review.handoffs.urls")),  # ready for review, notes, questions
    path("", include("eligibility.review.timeline.urls")),  # an episode's timeline, card, calendar file
]
