"""The staff web inbox: login with password + TOTP, and the cases the staff member is on."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import segno
from django import forms
from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts import services as account_services
from backend.accounts.sessions import verified_staff_session
from backend.accounts.throttles import LoginHeldBackError
from backend.audit.services import record_event
from backend.cases import enrollment, policy, selectors
from backend.problems import Problem


class LoginForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, max_length=1024, strip=False)
    otp = forms.RegexField(regex=r"^\d{6,8}$", label="One-time code", max_length=8)


def verified_staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """No inbox page works without a password, a verified second factor, and a session
    younger than the absolute limit."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if verified_staff_session(request.user, request.session, now=timezone.now()) is None:
            logout(request)
            return HttpResponseRedirect(f"{reverse('inbox-login')}?next={request.path}")
        # override, not activate: the zone must not leak to the next request on this thread.
        with timezone.override(settings.LIVLINA_INBOX_TIME_ZONE):
            return view(request, *args, **kwargs)

    return wrapper


@require_http_methods(["GET", "POST"])
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
                user, error = None, "Too many attempts. Wait a while and try again."
            if user is not None:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                totp = TOTPDevice.objects.devices_for_user(user, confirmed=True).first()
                otp_login(request, totp)
                request.session[account_services.SESSION_LOGIN_AT_KEY] = timezone.now().timestamp()
                record_event(action="staff.login", actor=user, target=f"user:{user.pk}")
                next_url = request.GET.get("next", "")
                return HttpResponseRedirect(next_url if next_url.startswith("/inbox/") else reverse("inbox-home"))
            error = error or "Wrong username, password or one-time code."
        else:
            error = "Fill in username, password and the 6-digit code from your authenticator app."
    return render(request, "inbox/login.html", {"form": form, "error": error}, status=400 if error else 200)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect(reverse("inbox-login"))


@verified_staff_required
def home_view(request: HttpRequest) -> HttpResponse:
    cases = selectors.cases_for(request.user)  # type: ignore[arg-type]
    return render(request, "inbox/home.html", {"cases": cases})


@never_cache  # the page shows a one-time code
@verified_staff_required
@require_POST
def enrollment_code_view(request: HttpRequest, case_id: int) -> HttpResponse:
    try:
        case = policy.require_case_for_staff(request.user, case_id)  # type: ignore[arg-type]
        code, row = enrollment.create_enrollment_code(case=case, created_by=request.user)  # type: ignore[arg-type]
    except Problem as problem:
        return render(request, "inbox/error.html", {"detail": problem.detail}, status=problem.status_code)
    qr = segno.make(code, error="m").svg_inline(scale=5)
    return render(
        request, "inbox/enrollment_code.html", {"case": case, "code": code, "expires_at": row.expires_at, "qr": qr}
    )
