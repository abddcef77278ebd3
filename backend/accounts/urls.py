from django.urls import path

from backend.accounts import views

urlpatterns = [
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/staff-device", views.StaffDeviceView.as_view(), name="auth-staff-device"),
]
