"""Whether a person's phones can be reached by push at all: the same rule the outbox
writes rows by (a live device with a push token), with the reason when they cannot.

A staff member on call whose phone cannot be reached still gets their escalation step
(its timeline says ``nobody_reachable``); what this module adds is telling it before an
alert needs it: the on-call overview (``crisis.oncall_services``) and the inbox ask here."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from django.db.models import OuterRef, Subquery

from backend.accounts.models import Device, User
from backend.push.models import Outcome, PushAttempt


class Unreachable(models.TextChoices):
    """Why nobody's phone would ring: the API's machine-readable ``reason``."""

    NO_PHONE = "no_phone"  # no enrolled phone that is not revoked
    TOKEN_DEAD = "token_dead"  # the push service refused the phone's token, and no new one has come
    NO_PUSH_TOKEN = "no_push_token"  # the phone gave no token, or turned push off


def unreachable_users(user_ids: Iterable[int]) -> dict[int, Unreachable]:
    """The users among ``user_ids`` no push can reach, each with the reason; one query.
    A user with several phones is reachable while any of them has a token; without one,
    ``token_dead`` when the last push to any of their phones was refused for its token."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    last_outcome = PushAttempt.objects.filter(device=OuterRef("pk")).order_by("-at", "-pk").values("outcome")[:1]
    phones = (
        Device.objects.filter(user_id__in=wanted, revoked_at__isnull=True)
        .annotate(last_outcome=Subquery(last_outcome))
        .values_list("user_id", "push_token", "last_outcome")
    )
    reachable: set[int] = set()
    dead: set[int] = set()
    tokenless: set[int] = set()
    for user_id, token, outcome in phones:
        if token:
            reachable.add(user_id)
        elif outcome == Outcome.TOKEN_DEAD:
            dead.add(user_id)
        else:
            tokenless.add(user_id)
    found: dict[int, Unreachable] = {}
    for user_id in sorted(wanted - reachable):
        if user_id in dead:
            found[user_id] = Unreachable.TOKEN_DEAD
        elif user_id in tokenless:
            found[user_id] = Unreachable.NO_PUSH_TOKEN
        else:
            found[user_id] = Unreachable.NO_PHONE
    return found


def phone_unreachable_reason(user: User) -> Unreachable | None:
    """Why ``user``'s own phone cannot be reached by push (for the inbox to tell them), or
    None when at least one of their phones can."""
    return unreachable_users([user.pk]).get(user.pk)
