"""The push outbox: rows written inside the transaction that makes an event true, then
drained by the worker with retries and backoff.

Delivery is at-least-once per row: a row is sent, then marked sent; a worker that dies
between the two leaves a lease that expires, and another worker sends again. A row
marked sent is never sent again."""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from backend.accounts.models import Device
from backend.crisis.models import AlertEvent
from backend.push.models import PushOutbox
from backend.push.senders import Delivery, Outcome, PushSender, current_sender

logger = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
# Rows sent between two reads of their state; see drain_outbox.
SEND_CHUNK = 20
MAX_ATTEMPTS = 12
MAX_BACKOFF = timedelta(minutes=15)


def enqueue_push(
    *,
    user_ids: Iterable[int],
    kind: str,
    exclude_device: Device | None = None,
    high_priority: bool = True,
    alert_id: int | None = None,
) -> list[PushOutbox]:
    """One outbox row per live device with a push token of each user. Call inside the
    caller's transaction, so the rows exist exactly when the event does."""
    devices = Device.objects.filter(user_id__in=list(user_ids), revoked_at__isnull=True).exclude(push_token="")
    if exclude_device is not None:
        devices = devices.exclude(pk=exclude_device.pk)
    now = timezone.now()
    rows = [
        PushOutbox(device_id=device_id, kind=kind, high_priority=high_priority, next_attempt_at=now, alert_id=alert_id)
        for device_id in devices.values_list("pk", flat=True)
    ]
    return PushOutbox.objects.bulk_create(rows)


def live_devices_by_user(user_ids: Iterable[int]) -> dict[int, list[uuid.UUID]]:
    """The devices ``enqueue_push`` would write rows for, by user, in one query."""
    found: dict[int, list[uuid.UUID]] = {}
    devices = Device.objects.filter(user_id__in=list(user_ids), revoked_at__isnull=True).exclude(push_token="")
    for user_id, device_id in devices.order_by("user_id", "pk").values_list("user_id", "pk"):
        found.setdefault(user_id, []).append(device_id)
    return found


def enqueue_message_pushes(recipients: Iterable[tuple[Iterable[int], uuid.UUID | None]]) -> int:
    """``enqueue_push(kind="message")`` for many sent messages with one read of the
    devices and one insert: each entry is (recipient user ids, the sending device to
    leave out). Returns the number of rows written."""
    wanted = [(set(user_ids), exclude) for user_ids, exclude in recipients]
    all_users = set().union(*(users for users, _ in wanted))
    if not all_users:
        return 0
    devices_by_user = live_devices_by_user(all_users)
    now = timezone.now()
    rows = [
        PushOutbox(device_id=device_id, kind="message", high_priority=True, next_attempt_at=now)
        for users, exclude in wanted
        for user_id in users
        for device_id in devices_by_user.get(user_id, ())
        if device_id != exclude
    ]
    PushOutbox.objects.bulk_create(rows)
    return len(rows)


def backoff(attempts: int, *, slow: bool = False) -> timedelta:
    """Exponential with jitter: 5 s, 10 s, 20 s … up to 15 min; quota errors wait 4x."""
    base = 5 * 2 ** max(attempts - 1, 0) * (4 if slow else 1)
    seconds = min(base, MAX_BACKOFF.total_seconds())
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security


def claim_due(*, now: datetime, limit: int = 100) -> list[uuid.UUID]:
    """Lease due rows to this worker. ``SKIP LOCKED`` lets several workers claim at once
    on PostgreSQL; on SQLite the write lock serialises claims. An expired lease (a worker
    that died) makes the row claimable again."""
    with transaction.atomic():
        ids = list(
            PushOutbox.objects.select_for_update(skip_locked=True)
            .filter(state=PushOutbox.State.PENDING, next_attempt_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            PushOutbox.objects.filter(pk__in=ids).update(lease_until=now + LEASE, attempts=F("attempts") + 1)
    return ids


def _record(row: PushOutbox, token: str, result: Delivery, *, now: datetime) -> None:
    fields: dict[str, object] = {"lease_until": None, "last_error": result.detail[:300]}
    if result.outcome is Outcome.SENT:
        fields |= {"state": PushOutbox.State.SENT, "sent_at": now, "provider_message_id": result.provider_id[:200]}
    elif result.outcome is Outcome.TOKEN_DEAD:
        fields["state"] = PushOutbox.State.DROPPED
        # Clear the token only if it is still the one that failed: the app may have
        # registered a fresh one meanwhile.
        Device.objects.filter(pk=row.device_id, push_token=token).update(push_token="")
    elif result.outcome is Outcome.FAILED or row.attempts >= MAX_ATTEMPTS:
        fields["state"] = PushOutbox.State.FAILED
    else:
        fields["next_attempt_at"] = now + backoff(row.attempts, slow=result.outcome is Outcome.SLOW_DOWN)
    PushOutbox.objects.filter(pk=row.pk).update(**fields)
    if row.alert_id is not None:
        # Each attempt to reach someone about an alert, and how it went, is on its timeline.
        AlertEvent.objects.create(
            alert_id=row.alert_id,
            at=now,
            kind=f"push.{result.outcome.value}",
            detail={"device": str(row.device_id), "attempt": row.attempts, "error": result.detail[:300]},
        )


def deliver(row_id: uuid.UUID, *, sender: PushSender) -> Outcome | None:
    return _deliver(PushOutbox.objects.select_related("device").filter(pk=row_id).first(), sender=sender)


def _deliver(row: PushOutbox | None, *, sender: PushSender) -> Outcome | None:
    if row is None or row.state != PushOutbox.State.PENDING:
        return None
    token = row.device.push_token
    if row.device.is_revoked or not token:
        _record(row, token, Delivery(Outcome.TOKEN_DEAD, "device revoked or has no push token"), now=timezone.now())
        return Outcome.TOKEN_DEAD
    result = sender.send(row, token)
    _record(row, token, result, now=timezone.now())
    return result.outcome


def drain_outbox(*, sender: PushSender | None = None, limit: int = 100) -> int:
    """Claim and send due rows; returns how many were claimed. Worker job.

    Rows are read and sent ``SEND_CHUNK`` at a time. The delivered rows of a chunk are
    marked sent (and put on their alerts' timelines) together, in two statements, before
    the next chunk is read, so what a send relies on (the row still pending, its device not
    revoked) is at most one chunk old; any other outcome is recorded at once. Once half the
    lease has gone, the rows not yet tried are handed back, so another worker never claims
    a row this one is still sending or has sent but not yet marked. A worker killed
    mid-chunk sends up to a chunk again once the leases expire: a content-free push twice
    is harmless, a missing one is not."""
    sender = sender or current_sender()
    ids = claim_due(now=timezone.now(), limit=limit)
    stop_at = time.monotonic() + LEASE.total_seconds() / 2
    for start in range(0, len(ids), SEND_CHUNK):
        untried = _send_chunk(ids[start : start + SEND_CHUNK], sender=sender, stop_at=stop_at)
        if untried:
            _hand_back([*untried, *ids[start + SEND_CHUNK :]])
            break
    return len(ids)


def _send_chunk(ids: list[uuid.UUID], *, sender: PushSender, stop_at: float) -> list[uuid.UUID]:
    """Send one chunk of claimed rows; returns those not tried because time ran out."""
    rows = PushOutbox.objects.select_related("device").in_bulk(ids)
    delivered: list[tuple[PushOutbox, Delivery, datetime]] = []
    try:
        for n, row_id in enumerate(ids):
            if time.monotonic() > stop_at:
                return ids[n:]
            try:
                row = rows.get(row_id)
                if row is None or row.state != PushOutbox.State.PENDING:
                    continue
                token = row.device.push_token
                if row.device.is_revoked or not token:
                    _deliver(row, sender=sender)  # records the dead token
                    continue
                result = sender.send(row, token)
                if result.outcome is Outcome.SENT:
                    delivered.append((row, result, timezone.now()))
                else:
                    _record(row, token, result, now=timezone.now())
            except Exception:
                # One bad row must not hold up the rest; its lease expires and it is retried.
                logger.exception("push outbox row %s failed", row_id)
    finally:
        _record_delivered(delivered)
    return []


def _hand_back(ids: list[uuid.UUID]) -> None:
    """Release claimed rows that were not tried, as if never claimed: due at once again."""
    PushOutbox.objects.filter(pk__in=ids, state=PushOutbox.State.PENDING).update(
        lease_until=None, attempts=F("attempts") - 1
    )


def _record_delivered(delivered: list[tuple[PushOutbox, Delivery, datetime]]) -> None:
    """What ``_record`` does for a sent row, for many rows in two statements."""
    if not delivered:
        return
    for row, result, at in delivered:
        row.state, row.sent_at, row.lease_until = PushOutbox.State.SENT, at, None
        row.provider_message_id, row.last_error = result.provider_id[:200], result.detail[:300]
    PushOutbox.objects.bulk_update(
        [row for row, _, _ in delivered], ["state", "sent_at", "lease_until", "provider_message_id", "last_error"]
    )
    AlertEvent.objects.bulk_create(
        [
            AlertEvent(
                alert_id=row.alert_id,
                at=at,
                kind=f"push.{result.outcome.value}",
                detail={"device": str(row.device_id), "attempt": row.attempts, "error": result.detail[:300]},
            )
            for row, result, at in delivered
            if row.alert_id is not None
        ]
    )
