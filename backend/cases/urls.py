from django.urls import path

from backend.cases import device_views, views

urlpatterns = [
    path("enroll", device_views.EnrollView.as_view(), name="enroll"),
    path("me", device_views.MeView.as_view(), name="me"),
    path("me/device", device_views.OwnDeviceView.as_view(), name="me-device"),
    path("devices/<uuid:device_id>/revoke", device_views.DeviceRevokeView.as_view(), name="device-revoke"),
    path("cases", views.CaseListView.as_view(), name="case-list"),
    path("cases/<int:case_id>", views.CaseDetailView.as_view(), name="case-detail"),
    path("cases/<int:case_id>/enrollment-codes", views.EnrollmentCodeView.as_view(), name="case-enrollment-codes"),
    path("cases/<int:case_id>/break-glass", views.BreakGlassView.as_view(), name="case-break-glass"),
    path("cases/<int:case_id>/devices", views.CaseDevicesView.as_view(), name="case-devices"),
]
