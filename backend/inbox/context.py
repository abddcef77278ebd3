"""What every inbox template may use: the inbox's time zone, whether the staff member's
own phone can be reached by alert pushes, and the few words the page's script shows (in
the page's language, so the script holds no text of its own)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _

from backend.accounts.models import User
from backend.push.reachability import Unreachable, phone_unreachable_reason


def _phone_problem(request: HttpRequest) -> Callable[[], Unreachable | None]:
    """Asked only when a template shows it (the page around the content, not the
    fragments the page fetches), and then once: the template calls it for its value."""

    @cache
    def problem() -> Unreachable | None:
        user = request.user
        if isinstance(user, User) and user.is_authenticated and user.is_staff_member:
            return phone_unreachable_reason(user)
        return None

    return problem


def inbox(request: HttpRequest) -> dict[str, Any]:
    if not request.path.startswith("/inbox/"):
        return {}
    return {
        "my_phone_problem": _phone_problem(request),
        "TIME_ZONE": settings.LIVLINA_INBOX_TIME_ZONE,
        "inbox_strings": {
            "connected": _("Connected"),
            "connecting": _("Connecting …"),
            "reconnecting": _("Reconnecting …"),
            "sending": _("Sending …"),
            "sent": _("Sent"),
            "read": _("Read"),
            "failed": _("Not sent"),
            "retry": _("Try again"),
            "staff": _("Staff"),
            "new_alert": _("Livlina: a new alert"),
            "new_alert_body": _("Open the inbox to see it."),
        },
    }
