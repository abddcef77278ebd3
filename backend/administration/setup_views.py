"""The one-time setup page behind a setup link: the person sets a password (for an
invitation) and enrols an authenticator, confirmed with a code. A plain server-rendered
form with no script; the services are ``staff_services``."""

from __future__ import annotations

import segno
from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from backend.administration import staff_services
from backend.administration.models import SetupLink
from backend.problems import Problem


class SetupForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, max_length=1024, strip=False, required=False)
    password_again = forms.CharField(widget=forms.PasswordInput, max_length=1024, strip=False, required=False)
    otp = forms.RegexField(regex=r"^\d{6,8}$", label="One-time code", max_length=8)


def _gone(request: HttpRequest) -> HttpResponse:
    return render(request, "administration/setup_gone.html", status=404)


@never_cache
@require_http_methods(["GET", "POST"])
def setup_view(request: HttpRequest, token: str) -> HttpResponse:
    link = staff_services.live_setup_link(token)
    if link is None:
        return _gone(request)
    form = SetupForm(request.POST or None)
    error = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                user = staff_services.complete_setup(
                    token=token,
                    password=form.cleaned_data["password"],
                    password_again=form.cleaned_data["password_again"],
                    otp=form.cleaned_data["otp"],
                )
            except Problem as problem:
                if problem.status_code == 404:  # noqa: PLR2004 (the link died meanwhile)
                    return _gone(request)
                error = str(problem.detail)
            else:
                return render(request, "administration/setup_done.html", {"username": user.username})
        else:
            error = "Enter the 6-digit code your authenticator app shows."
    device = staff_services.pending_authenticator(link)
    context = {
        "form": form,
        "error": error,
        "username": link.user.username,
        "needs_password": link.purpose == SetupLink.Purpose.INVITE,
        "qr": segno.make(device.config_url, error="m").svg_inline(scale=4),
        "secret": staff_services.totp_secret(device),
    }
    return render(request, "administration/setup.html", context, status=400 if error else 200)
