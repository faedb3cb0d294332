"""An episode's timeline, card and calendar file, by the episode's opaque identifier."""

from django.urls import path

from . import views

urlpatterns = [
    path("episodes/<uuid:public_id>/timeline/", views.episode_timeline_page, name="episode_timeline"),
    path("episodes/<uuid:public_id>/card/", views.episode_card, name="episode_card"),
    path("episodes/<uuid:public_id>/calendar.ics", views.episode_calendar, name="episode_calendar"),
]
