"""The push outbox: rows written inside the transaction that makes an event true, then
drained by the worker with retries and backoff.

Delivery is at-least-once per row: a row is sent, then marked sent; a worker that dies
between the two leaves a lease that expires, and another worker sends again. A row
marked sent is never sent again. Every attempt and its outcome is kept (``PushAttempt``),
for the apps above to show (an alert's timeline)."""

from __future__ import annotations

import functools
import logging
import operator
import random
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from backend import metrics
from backend.accounts.models import Device
from backend.jobs import Lease, claim_due_rows, run_in_bulk_else_one_by_one
from backend.push.models import Outcome, PushAttempt, PushKind, PushOutbox
from backend.push.senders import Delivery, PushSender, current_sender
from backend.structured_logs import bound_request_id, current_request_id

logger = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
# Rows sent between two reads of their state; see drain_outbox.
SEND_CHUNK = 20
MAX_ATTEMPTS = 12
MAX_BACKOFF = timedelta(minutes=15)


@dataclass(frozen=True)
class PushEvent:
    """Something to push to the live phones of some users: one outbox row per phone."""

    user_ids: Collection[int]
    kind: PushKind
    exclude_device_id: uuid.UUID | None = None  # the phone the event came from needs no wake-up
    alert_id: int | None = None  # an alert's pushes show on its timeline
    high_priority: bool = True


def enqueue_pushes(
    events: Iterable[PushEvent], *, devices_by_user: Mapping[int, list[uuid.UUID]] | None = None
) -> list[PushOutbox]:
    """One outbox row per live device with a push token of each event's users: one read
    of the devices and one insert, however many events. Call inside the caller's
    transaction, so the rows exist exactly when the events do. A caller that has already
    read ``live_devices_by_user`` for these users passes it, and the read is skipped."""
    events = list(events)
    if devices_by_user is None:
        users = {user_id for event in events for user_id in event.user_ids}
        devices_by_user = live_devices_by_user(users) if users else {}
    now, request_id = timezone.now(), current_request_id()
    rows = [
        PushOutbox(
            device_id=device_id,
            kind=event.kind,
            high_priority=event.high_priority,
            next_attempt_at=now,
            alert_id=event.alert_id,
            request_id=request_id,
        )
        for event in events
        for user_id in sorted(set(event.user_ids))
        for device_id in devices_by_user.get(user_id, ())
        if device_id != event.exclude_device_id
    ]
    return PushOutbox.objects.bulk_create(rows)


def enqueue_push(
    *,
    user_ids: Iterable[int],
    kind: PushKind,
    exclude_device: Device | None = None,
    high_priority: bool = True,
    alert_id: int | None = None,
) -> list[PushOutbox]:
    """``enqueue_pushes`` for one event."""
    event = PushEvent(
        user_ids=list(user_ids),
        kind=kind,
        exclude_device_id=exclude_device.pk if exclude_device is not None else None,
        alert_id=alert_id,
        high_priority=high_priority,
    )
    return enqueue_pushes([event])


def enqueue_message_pushes(recipients: Iterable[tuple[Iterable[int], uuid.UUID | None]]) -> int:
    """``enqueue_pushes`` of ``message`` pushes for many sent messages: each entry is
    (recipient user ids, the sending device to leave out). Returns the number of rows written."""
    events = (
        PushEvent(user_ids=list(user_ids), kind=PushKind.MESSAGE, exclude_device_id=exclude)
        for user_ids, exclude in recipients
    )
    return len(enqueue_pushes(events))


def live_devices_by_user(user_ids: Iterable[int]) -> dict[int, list[uuid.UUID]]:
    """The devices ``enqueue_pushes`` writes rows for, by user, in one query."""
    found: dict[int, list[uuid.UUID]] = {}
    devices = Device.objects.filter(user_id__in=list(user_ids), revoked_at__isnull=True).exclude(push_token="")
    for user_id, device_id in devices.order_by("user_id", "pk").values_list("user_id", "pk"):
        found.setdefault(user_id, []).append(device_id)
    return found


def backoff(attempts: int, *, slow: bool = False) -> timedelta:
    """Exponential with jitter: 5 s, 10 s, 20 s … up to 15 min; quota errors wait 4x."""
    base = 5 * 2 ** max(attempts - 1, 0) * (4 if slow else 1)
    seconds = min(base, MAX_BACKOFF.total_seconds())
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security


def claim_due(*, now: datetime, limit: int = 100) -> list[uuid.UUID]:
    """Lease due rows to this worker, counting the attempt. ``SKIP LOCKED`` lets several
    workers claim at once on PostgreSQL; on SQLite the write lock serialises claims. An
    expired lease (a worker that died) makes the row claimable again."""
    claimed = claim_due_rows(
        PushOutbox.objects.all(),
        due=Q(state=PushOutbox.State.PENDING, next_attempt_at__lte=now),
        order_by=("next_attempt_at",),
        limit=limit,
        lease=Lease(now=now, length=LEASE, also={"attempts": F("attempts") + 1}),
    )
    return [row.pk for row in claimed]


def drain_outbox(*, sender: PushSender | None = None, limit: int = 100) -> int:
    """Claim and send due rows; returns how many were claimed. Worker job.

    Rows are read and sent ``SEND_CHUNK`` at a time, and the outcomes of a chunk are
    recorded together (a few statements) before the next chunk is read, so what a send
    relies on (the row still pending, its device not revoked) is at most one chunk old.
    Once half the lease has gone, the rows not yet tried are handed back, so another
    worker never claims a row this one is still sending or has sent but not yet marked.
    A worker killed mid-chunk sends up to a chunk again once the leases expire: a
    content-free push twice is harmless, a missing one is not."""
    sender = sender or current_sender()
    ids = claim_due(now=timezone.now(), limit=limit)
    stop_at = time.monotonic() + LEASE.total_seconds() / 2
    for start in range(0, len(ids), SEND_CHUNK):
        untried = _send_chunk(ids[start : start + SEND_CHUNK], sender=sender, stop_at=stop_at)
        if untried:
            _hand_back([*untried, *ids[start + SEND_CHUNK :]])
            break
    return len(ids)


@dataclass
class _Attempt:
    row: PushOutbox
    token: str  # the token the attempt used: only that one is cleared if it is dead
    result: Delivery
    at: datetime


def _send_chunk(ids: list[uuid.UUID], *, sender: PushSender, stop_at: float) -> list[uuid.UUID]:
    """Send claimed rows one by one (one bad row never holds up the rest: its lease
    expires and it is retried) and record their outcomes together; returns those not
    tried because time (``stop_at``, on the monotonic clock) ran out."""
    rows = PushOutbox.objects.select_related("device").in_bulk(ids)
    attempts: list[_Attempt] = []
    untried: list[uuid.UUID] = []

    def pending_in_time() -> Iterator[PushOutbox]:
        for n, row_id in enumerate(ids):
            if time.monotonic() > stop_at:
                untried.extend(ids[n:])
                return
            row = rows.get(row_id)
            if row is not None and row.state == PushOutbox.State.PENDING:
                yield row

    try:
        run_in_bulk_else_one_by_one(
            pending_in_time(),
            # Each outcome is kept as it comes, so a worker stopped mid-chunk records it.
            single=lambda row: attempts.append(_attempt(row, sender)),
            what="push outbox row",
            logger=logger,
            savepoints=False,  # no transaction held open across a network send; outcomes are written below
        )
    finally:
        _record(attempts)
    return untried


def _attempt(row: PushOutbox, sender: PushSender) -> _Attempt:
    token = row.device.push_token
    with bound_request_id(row.request_id):
        if row.device.is_revoked or not token:
            result = Delivery(Outcome.TOKEN_DEAD, "device revoked or has no push token")
        else:
            result = sender.send(row, token)
        logger.info("push %s attempt %d: %s", row.kind, row.attempts, result.outcome)
    return _Attempt(row, token, result, timezone.now())


def _record(attempts: list[_Attempt]) -> None:
    """Each attempt's outcome on its row and in the attempt log, for a whole chunk in at
    most three statements, whatever the outcomes."""
    if not attempts:
        return
    dead_tokens: list[Q] = []
    for attempt in attempts:
        row, result = attempt.row, attempt.result
        metrics.PUSH_OUTCOMES.labels(kind=row.kind, outcome=result.outcome).inc()
        row.lease_until, row.last_error = None, result.detail[:300]
        if result.outcome is Outcome.SENT:
            row.state, row.sent_at = PushOutbox.State.SENT, attempt.at
            row.provider_message_id = result.provider_id[:200]
        elif result.outcome is Outcome.TOKEN_DEAD:
            row.state = PushOutbox.State.DROPPED
            # Clear the token only if it is still the one that failed: the app may have
            # registered a fresh one meanwhile.
            dead_tokens.append(Q(pk=row.device_id, push_token=attempt.token))
        elif result.outcome is Outcome.FAILED or row.attempts >= MAX_ATTEMPTS:
            row.state = PushOutbox.State.FAILED
        else:
            row.next_attempt_at = attempt.at + backoff(row.attempts, slow=result.outcome is Outcome.SLOW_DOWN)
    PushOutbox.objects.bulk_update(
        [attempt.row for attempt in attempts],
        ["state", "sent_at", "lease_until", "next_attempt_at", "provider_message_id", "last_error"],
    )
    PushAttempt.objects.bulk_create(
        PushAttempt(
            outbox_id=attempt.row.pk,
            device_id=attempt.row.device_id,
            number=attempt.row.attempts,
            outcome=attempt.result.outcome,
            detail=attempt.result.detail[:300],
            at=attempt.at,
        )
        for attempt in attempts
    )
    if dead_tokens:
        Device.objects.filter(functools.reduce(operator.or_, dead_tokens)).update(push_token="")


def _hand_back(ids: list[uuid.UUID]) -> None:
    """Release claimed rows that were not tried, as if never claimed: due at once again."""
    PushOutbox.objects.filter(pk__in=ids, state=PushOutbox.State.PENDING).update(
        lease_until=None, attempts=F("attempts") - 1
    )
