from django.urls import path

from backend.accounts import views

urlpatterns = [
    path("enroll", views.EnrollView.as_view(), name="enroll"),
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/staff-device", views.StaffDeviceView.as_view(), name="auth-staff-device"),
    path("me", views.MeView.as_view(), name="me"),
    path("devices/<uuid:device_id>/revoke", views.DeviceRevokeView.as_view(), name="device-revoke"),
]
