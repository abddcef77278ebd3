from django.urls import path

from backend.administration import staff_views

urlpatterns = [
    path("programmes/<int:programme_id>/staff", staff_views.ProgrammeStaffView.as_view(), name="programme-staff"),
    path(
        "programmes/<int:programme_id>/staff/<int:user_id>",
        staff_views.StaffMemberView.as_view(),
        name="programme-staff-member",
    ),
    path(
        "programmes/<int:programme_id>/staff/<int:user_id>/deactivate",
        staff_views.StaffDeactivateView.as_view(),
        name="programme-staff-deactivate",
    ),
    path(
        "programmes/<int:programme_id>/staff/<int:user_id>/reset-2fa",
        staff_views.StaffResetTwoFactorView.as_view(),
        name="programme-staff-reset-2fa",
    ),
]
