"""The words staff read for the codes the API uses (kinds, severities, states, answers,
timeline events), in the inbox's language."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ALERT_KINDS: dict[str, Promise] = {
    "keyword": _("Crisis language"),
    "missed_checkin": _("Missed check-in"),
    "duress": _("Duress"),
    "panic": _("Panic button"),
    "unanswered": _("Unanswered message"),
    "need_contact": _("Wants contact"),
    "danger": _("In danger"),
}

# What crisis language an alert found (``Alert.reasons``' categories; never the words).
CATEGORIES: dict[str, Promise] = {
    "self_harm": _("self-harm"),
    "threat": _("threat"),
    "located": _("found by the group"),
    "weapons": _("weapons"),
    "relapse": _("relapse"),
    "overdose": _("overdose"),
}

SEVERITIES: dict[str, Promise] = {"normal": _("Normal"), "high": _("High"), "critical": _("Critical")}

ALERT_STATES: dict[str, Promise] = {
    "open": _("Open"),
    "acknowledged": _("Acknowledged"),
    "resolved": _("Resolved"),
}

CHECKIN_STATUSES: dict[str, Promise] = {"open": _("Open"), "answered": _("Answered"), "missed": _("Missed")}

# A duress answer is stored and shown as the answer the defector chose: nothing here may
# tell it apart.
CHECKIN_ANSWERS: dict[str, Promise] = {
    "ok": _("OK"),
    "need_contact": _("Wants contact"),
    "danger": _("In danger"),
}

TIMELINE_EVENTS: dict[str, Promise] = {
    "raised": _("Raised"),
    "retriggered": _("Raised again"),
    "severity_raised": _("Severity raised"),
    "notified": _("Notified"),
    "nobody_to_notify": _("Nobody to notify"),
    "waiting": _("Waiting"),
    "escalation_exhausted": _("Escalation ran out"),
    "acknowledged": _("Acknowledged"),
    "reopened": _("Reopened"),
    "resolved": _("Resolved"),
    "nobody_reachable": _("Nobody reachable by phone"),
    "wait_skipped": _("Wait skipped"),
    "push.sent": _("Push sent"),
    "push.retry": _("Push to be retried"),
    "push.slow_down": _("Push delayed by FCM"),
    "push.token_dead": _("Phone no longer reachable"),
    "push.failed": _("Push failed"),
    "push.queued": _("Push queued"),
}

STAFF_ROLES: dict[str, Promise] = {
    "contact_person": _("Contact person"),
    "on_call": _("On call"),
    "supervisor": _("Supervisor"),
    "admin": _("Admin"),
}


def in_words(words: Mapping[str, Promise], code: str) -> str:
    """``code`` in the reader's words, or the code itself where it has none."""
    return str(words.get(code, code))


def role_label(role: str) -> str:
    return in_words(STAFF_ROLES, role)


# A case as its programme's supervisors see it (``administration.case_selectors``).
CASE_STATES: dict[str, Promise] = {
    "open": _("Open"),
    "closed": _("Closed"),
    "shredded": _("Content destroyed"),
}

# A move to another programme, as either side sees it (the sending side sees no more).
TRANSFER_STATES: dict[str, Promise] = {
    "proposed": _("Waiting for an answer"),
    "accepted": _("Accepted"),
    "declined": _("Declined"),
    "expired": _("Expired"),
}
