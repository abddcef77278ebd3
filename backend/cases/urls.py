from django.urls import path

from backend.cases import views

urlpatterns = [
    path("cases", views.CaseListView.as_view(), name="case-list"),
    path("cases/<int:case_id>", views.CaseDetailView.as_view(), name="case-detail"),
    path("cases/<int:case_id>/enrollment-codes", views.EnrollmentCodeView.as_view(), name="case-enrollment-codes"),
    path("cases/<int:case_id>/break-glass", views.BreakGlassView.as_view(), name="case-break-glass"),
    path("cases/<int:case_id>/devices", views.CaseDevicesView.as_view(), name="case-devices"),
]
