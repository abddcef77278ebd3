from django.urls import path

from backend.crisis import views

urlpatterns = [
    path("alerts", views.AlertListView.as_view(), name="alert-list"),
    path("panic", views.PanicView.as_view(), name="panic"),
    path("cases/<int:case_id>/duress-phrase", views.DuressPhraseView.as_view(), name="case-duress-phrase"),
    path("alerts/<int:alert_id>", views.AlertDetailView.as_view(), name="alert-detail"),
    path("alerts/<int:alert_id>/ack", views.AlertAckView.as_view(), name="alert-ack"),
    path("alerts/<int:alert_id>/resolve", views.AlertResolveView.as_view(), name="alert-resolve"),
    path(
        "programmes/<int:programme_id>/escalation-policy",
        views.EscalationPolicyView.as_view(),
        name="programme-escalation-policy",
    ),
    path("programmes/<int:programme_id>/oncall", views.OnCallView.as_view(), name="programme-oncall"),
    path("programmes/<int:programme_id>/oncall/rotations", views.RotationView.as_view(), name="programme-rotations"),
    path("programmes/<int:programme_id>/oncall/overrides", views.OverrideView.as_view(), name="programme-overrides"),
    path(
        "programmes/<int:programme_id>/oncall/rotations/<int:rotation_id>",
        views.RotationDetailView.as_view(),
        name="programme-rotation",
    ),
    path(
        "programmes/<int:programme_id>/oncall/overrides/<int:override_id>",
        views.OverrideDetailView.as_view(),
        name="programme-override",
    ),
]
