from django.urls import path

from backend.administration import audit_views, case_views, settings_views, staff_views, transfer_views

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
    path("programmes/<int:programme_id>/cases", case_views.ProgrammeCasesView.as_view(), name="programme-cases"),
    path("cases/<int:case_id>/assignments", case_views.CaseAssignmentsView.as_view(), name="case-assignments"),
    path(
        "cases/<int:case_id>/assignments/<int:user_id>",
        case_views.CaseAssignmentView.as_view(),
        name="case-assignment",
    ),
    path("cases/<int:case_id>/close", case_views.CaseCloseView.as_view(), name="case-close"),
    path("cases/<int:case_id>/shred", case_views.CaseShredView.as_view(), name="case-shred"),
    path(
        "programmes/<int:programme_id>/staff/<int:user_id>/working-hours",
        settings_views.WorkingHoursView.as_view(),
        name="programme-staff-working-hours",
    ),
    path(
        "programmes/<int:programme_id>/alert-limits",
        settings_views.AlertLimitsView.as_view(),
        name="programme-alert-limits",
    ),
    path("programmes", transfer_views.ProgrammeDirectoryView.as_view(), name="programme-list"),
    path("cases/<int:case_id>/transfers", transfer_views.CaseTransfersView.as_view(), name="case-transfers"),
    path("transfers", transfer_views.TransferListView.as_view(), name="transfer-list"),
    path("transfers/<int:transfer_id>/accept", transfer_views.TransferAcceptView.as_view(), name="transfer-accept"),
    path("transfers/<int:transfer_id>/decline", transfer_views.TransferDeclineView.as_view(), name="transfer-decline"),
    path("programmes/<int:programme_id>/audit", audit_views.AuditListView.as_view(), name="programme-audit"),
    path(
        "programmes/<int:programme_id>/audit/verification",
        audit_views.AuditVerificationView.as_view(),
        name="programme-audit-verification",
    ),
    path(
        "programmes/<int:programme_id>/audit/export",
        audit_views.AuditExportView.as_view(),
        name="programme-audit-export",
    ),
]
