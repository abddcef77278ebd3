from django.urls import path

from backend.checkins import views

urlpatterns = [
    path("cases/<int:case_id>/checkin-schedules", views.CaseSchedulesView.as_view(), name="case-checkin-schedules"),
    path("cases/<int:case_id>/checkins", views.CaseCheckinHistoryView.as_view(), name="case-checkins"),
    path(
        "checkin-schedules/<int:schedule_id>/pause", views.SchedulePauseView.as_view(paused=True), name="schedule-pause"
    ),
    path(
        "checkin-schedules/<int:schedule_id>/resume",
        views.SchedulePauseView.as_view(paused=False),
        name="schedule-resume",
    ),
    path("checkins/open", views.OpenCheckinsView.as_view(), name="checkins-open"),
    path("me/checkins/upcoming", views.UpcomingCheckinsView.as_view(), name="me-checkins-upcoming"),
    path("checkins/<int:checkin_id>/respond", views.RespondView.as_view(), name="checkin-respond"),
    path("checkins/<int:checkin_id>/extend", views.ExtendView.as_view(), name="checkin-extend"),
    path("me/pin", views.PinView.as_view(duress=False), name="me-pin"),
    path("me/duress-pin", views.PinView.as_view(duress=True), name="me-duress-pin"),
]
