from django.urls import path

from backend.inbox import views

urlpatterns = [
    path("", views.home_view, name="inbox-home"),
    path("login/", views.login_view, name="inbox-login"),
    path("logout/", views.logout_view, name="inbox-logout"),
    path("cases/<int:case_id>/enrollment-code", views.enrollment_code_view, name="inbox-enrollment-code"),
]
