"""The one-time setup page behind a setup link: the person sets a password (for an
invitation) and enrols an authenticator, confirmed with a code. The only inbox page
reached without a session; the services are ``administration.staff_services``, which
decide everything (the form only says what is missing in the reader's language)."""

from __future__ import annotations

from typing import Any

import segno
from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from backend.administration import staff_services
from backend.administration.models import SetupLink
from backend.inbox.pages import inbox_page
from backend.problems import Problem

CODE_WANTED = gettext_lazy("Enter the 6-digit code your authenticator app shows.")
PASSWORDS_DIFFER = gettext_lazy("The two passwords differ.")


class SetupForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Password"),
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=gettext_lazy("The same password again"),
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    otp = forms.RegexField(
        regex=r"^\d{6,8}$",
        label=gettext_lazy("The 6-digit code the app shows now"),
        max_length=8,
        error_messages={"required": CODE_WANTED, "invalid": CODE_WANTED},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )

    def __init__(self, *args: Any, needs_password: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not needs_password:
            # A second-factor reset keeps the password: only the authenticator is new.
            del self.fields["password"], self.fields["password_again"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "password" in data and "password_again" in data and data["password"] != data["password_again"]:
            self.add_error("password_again", PASSWORDS_DIFFER)
        return data


def _refusal(problem: Problem) -> str:
    """The service's refusal in the reader's language. A weak password's reasons come from
    Django's validators, already translated."""
    if problem.field == "otp":
        return _("That code does not match; check the authenticator and try again.")
    if problem.field == "password_again":
        return str(PASSWORDS_DIFFER)
    return str(problem.detail)


def _gone(request: HttpRequest) -> HttpResponse:
    return render(request, "inbox/setup_gone.html", status=404)


@never_cache
@require_http_methods(["GET", "POST"])
@inbox_page
def setup_view(request: HttpRequest, token: str) -> HttpResponse:
    link = staff_services.live_setup_link(token)
    if link is None:
        return _gone(request)
    needs_password = link.purpose == SetupLink.Purpose.INVITE
    form = SetupForm(request.POST if request.method == "POST" else None, needs_password=needs_password)
    if request.method == "POST" and form.is_valid():
        try:
            user = staff_services.complete_setup(
                token=token,
                password=form.cleaned_data.get("password", ""),
                password_again=form.cleaned_data.get("password_again", ""),
                otp=form.cleaned_data["otp"],
            )
        except Problem as problem:
            if problem.status_code == 404:  # noqa: PLR2004 (the link died meanwhile)
                return _gone(request)
            form.add_error(problem.field if problem.field in form.fields else None, _refusal(problem))
        else:
            return render(request, "inbox/setup_done.html", {"username": user.username})
    device = staff_services.pending_authenticator(link)
    context = {
        "form": form,
        "username": link.user.username,
        "needs_password": needs_password,
        "qr": segno.make(device.config_url, error="m").svg_inline(
            scale=4, title=_("QR code for your authenticator app")
        ),
        "secret": staff_services.totp_secret(device),
    }
    return render(request, "inbox/setup.html", context, status=400 if form.errors else 200)
