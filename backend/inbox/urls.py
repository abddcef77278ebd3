from django.urls import include, path

from backend.inbox import auth_views, setup_pages, views

urlpatterns = [
    path("", views.queue_view, name="inbox-home"),
    path("queue-rows/", views.queue_rows_view, name="inbox-queue-rows"),
    path("login/", auth_views.login_view, name="inbox-login"),
    path("logout/", auth_views.logout_view, name="inbox-logout"),
    path("language/", auth_views.language_view, name="inbox-language"),
    path("setup/<str:token>/", setup_pages.setup_view, name="account-setup"),
    path("cases/<int:case_id>/", views.case_view, name="inbox-case"),
    path("cases/<int:case_id>/messages/", views.older_messages_view, name="inbox-older-messages"),
    path("cases/<int:case_id>/enrollment-code", views.enrollment_code_view, name="inbox-enrollment-code"),
    path("cases/<int:case_id>/checkins/", views.schedules_view, name="inbox-schedules"),
    path("checkin-schedules/<int:schedule_id>/pause", views.schedule_pause_view, {"paused": True}, name="inbox-pause"),
    path(
        "checkin-schedules/<int:schedule_id>/resume", views.schedule_pause_view, {"paused": False}, name="inbox-resume"
    ),
    path("devices/<uuid:device_id>/revoke", views.revoke_device_view, name="inbox-revoke-device"),
    path("alerts/", views.alerts_view, name="inbox-alerts"),
    path("alerts/rows/", views.alert_rows_view, name="inbox-alert-rows"),
    path("alerts/<int:alert_id>/ack", views.alert_ack_view, name="inbox-alert-ack"),
    path("alerts/<int:alert_id>/resolve", views.alert_resolve_view, name="inbox-alert-resolve"),
    path("programmes/", include("backend.inbox.programme.urls")),
]
