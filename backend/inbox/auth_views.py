"""Signing in and out of the inbox (password + TOTP), and choosing its language."""

from __future__ import annotations

from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts import services as account_services
from backend.accounts.throttles import LoginHeldBackError
from backend.audit.services import record_event
from backend.inbox.forms import LanguageForm, LoginForm
from backend.inbox.language import choose_language
from backend.inbox.pages import inbox_page


def _inbox_path(candidate: str) -> str:
    """Where to go after a form: only a path inside the inbox on this host."""
    if candidate.startswith("/inbox/") and url_has_allowed_host_and_scheme(candidate, allowed_hosts=None):
        return candidate
    return reverse("inbox-home")


@require_http_methods(["GET", "POST"])
@inbox_page
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    error = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                user = account_services.staff_login(
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                    otp=form.cleaned_data["otp"],
                    address=request.META.get("REMOTE_ADDR", ""),
                )
            except LoginHeldBackError:
                user, error = None, _("Too many attempts. Wait a while and try again.")
            if user is not None:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                totp = TOTPDevice.objects.devices_for_user(user, confirmed=True).first()
                otp_login(request, totp)
                request.session[account_services.SESSION_LOGIN_AT_KEY] = timezone.now().timestamp()
                record_event(action="staff.login", actor=user, target=f"user:{user.pk}")
                return HttpResponseRedirect(_inbox_path(request.GET.get("next", "")))
            error = error or _("Wrong username, password or one-time code.")
        else:
            error = _("Fill in username, password and the 6-digit code from your authenticator app.")
    return render(request, "inbox/login.html", {"form": form, "error": error}, status=400 if error else 200)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect(reverse("inbox-login"))


@require_POST
def language_view(request: HttpRequest) -> HttpResponse:
    """Switch the inbox's language: remembered for the staff member (every browser) and
    for this browser (the login page)."""
    form = LanguageForm(request.POST)
    response = HttpResponseRedirect(_inbox_path(request.POST.get("next", "")))
    if form.is_valid():
        choose_language(request, response, form.cleaned_data["language"])
    return response
