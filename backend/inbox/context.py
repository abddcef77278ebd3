"""What every inbox template may use: the inbox's time zone, and the few words the page's
script shows (in the page's language, so the script holds no text of its own)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _

from backend.accounts.models import User
from backend.push.reachability import phone_unreachable_reason


def inbox(request: HttpRequest) -> dict[str, Any]:
    if not request.path.startswith("/inbox/"):
        return {}
    user = request.user
    phone_problem = None
    if isinstance(user, User) and user.is_authenticated and user.is_staff_member:
        phone_problem = phone_unreachable_reason(user)
    return {
        "my_phone_problem": phone_problem,
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
