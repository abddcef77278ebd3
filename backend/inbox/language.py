"""The inbox's language: the staff member's saved choice, else the browser's last choice
(a cookie, so the login page speaks it too), else Swedish. The API keeps English."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from backend.accounts.models import User
from backend.inbox.models import InboxPreference

COOKIE = "livlina_language"
COOKIE_MAX_AGE = 365 * 24 * 3600


def supported(code: str) -> bool:
    return code in dict(settings.LANGUAGES)


def language_for(request: HttpRequest) -> str:
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        saved = InboxPreference.objects.filter(user=user).values_list("language", flat=True).first()
        if saved and supported(saved):
            return saved
    chosen = request.COOKIES.get(COOKIE, "")
    return chosen if supported(chosen) else settings.LIVLINA_INBOX_DEFAULT_LANGUAGE


def choose_language(request: HttpRequest, response: HttpResponse, code: str) -> None:
    """Remember ``code`` for the signed-in staff member and for this browser."""
    user = request.user
    if isinstance(user, User) and user.is_authenticated and user.is_staff_member:
        InboxPreference.objects.update_or_create(user=user, defaults={"language": code})
    response.set_cookie(COOKIE, code, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True)
