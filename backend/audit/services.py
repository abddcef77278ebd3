"""Writing the audit log (see docs/audit.md): entries, in one hash chain, and the signed
checkpoints over it. The verifier is ``audit.verification``; the hashing both share is
``audit.hashing``.

Every entry commits to the one before it, so anyone who edits, removes or reorders
entries with SQL breaks the chain; anyone who then recomputes the whole chain to hide
that is caught by the Ed25519-signed checkpoints, as long as they do not hold the
signing key.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone

from backend.audit.hashing import (
    checkpoint_every,
    checkpoint_message,
    compute_entry_hash,
    key_id_for,
    normalise_details,
    signing_key,
)
from backend.audit.models import (
    ACTION_MAX_LENGTH,
    GENESIS_HASH,
    TARGET_MAX_LENGTH,
    AuditCheckpoint,
    AuditEntry,
    AuditHead,
)

__all__ = [
    "AuditEvent",
    "AuditIntegrityError",
    "record_event",
    "record_events",
    "write_checkpoint",
]


class AuditIntegrityError(RuntimeError):
    """The log is in a state an append must not build on (e.g. its head row is gone)."""


def _lock_head() -> AuditHead:
    """Lock the head row for the rest of the transaction, creating it for an empty log.

    The row is normally inserted by migration 0002; it is recreated here only when the
    table was emptied along with the entries (test flushes). ``ignore_conflicts`` makes
    two concurrent creators on PostgreSQL agree on one row instead of one failing.
    """
    head = AuditHead.objects.select_for_update().filter(pk=AuditHead.SINGLETON_PK).first()
    if head is not None:
        return head
    # A concurrent creator's insert makes this one wait for its commit and then do
    # nothing, so the row locked below may already carry that writer's entry.
    AuditHead.objects.bulk_create(
        [AuditHead(pk=AuditHead.SINGLETON_PK, seq=0, entry_hash=GENESIS_HASH)], ignore_conflicts=True
    )
    head = AuditHead.objects.select_for_update().get(pk=AuditHead.SINGLETON_PK)
    if head.seq == 0 and AuditEntry.objects.exists():
        # Starting over at seq 1 would fork the log; refuse (rolling back the row just
        # inserted) and let the verifier explain.
        raise AuditIntegrityError("the audit head row is missing while entries exist; run verify_audit")
    return head


def _actor_fields(actor: AbstractBaseUser | AnonymousUser | None) -> tuple[int | None, str]:
    if actor is None or isinstance(actor, AnonymousUser) or actor.pk is None:
        return None, ""
    return int(actor.pk), actor.get_username()[:150]


@dataclass(frozen=True)
class AuditEvent:
    """One entry for ``record_events``; the fields mean what ``record_event``'s arguments do."""

    action: str
    actor: AbstractBaseUser | AnonymousUser | None = None
    case_id: int | None = None
    target: str = ""
    reason: str = ""
    details: dict[str, Any] | None = None


def record_event(
    *,
    action: str,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    case_id: int | None = None,
    target: str = "",
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the audit log and return it: ``record_events`` with one event.

    Transactional: it runs in ``transaction.atomic()``, so inside a caller's transaction
    the entry commits or rolls back with the caller's change (an action that did not
    happen leaves no entry). Appends serialize on the head row (``SELECT … FOR UPDATE``),
    so concurrent writers in any number of processes produce one contiguous chain; the
    unique ``seq`` is the last line of defence against a fork. Every
    ``LIVLINA_AUDIT_CHECKPOINT_EVERY``-th entry also gets a signed checkpoint in the same
    transaction. The actor is stored as id and username, not as a foreign key, so
    deleting a user never touches the log. ``details`` must be JSON-serializable
    (datetimes, UUIDs and decimals become strings, floats become their ``repr``). Never
    put case content (message text, locations) in ``target``, ``reason`` or ``details``:
    the log is not encrypted.

    Raises ``ValueError`` when ``action`` or ``target`` do not fit their columns and
    ``AuditIntegrityError`` when the head row is missing from a non-empty log.
    """
    event = AuditEvent(action=action, actor=actor, case_id=case_id, target=target, reason=reason, details=details)
    (entry,) = record_events([event])
    return entry


def record_events(events: Sequence[AuditEvent]) -> list[AuditEntry]:
    """Append entries in order and return them, with ``record_event``'s guarantees (one
    transaction with the caller's change, one contiguous chain, a signed checkpoint at
    every ``LIVLINA_AUDIT_CHECKPOINT_EVERY``-th entry, even inside the batch), taking the
    head lock once and inserting all of them with one statement: the worker's bulk paths
    hold the head lock for milliseconds. An event that does not fit its columns refuses
    the whole batch before anything is written."""
    if not events:
        return []
    prepared = []
    for event in events:
        if not event.action or len(event.action) > ACTION_MAX_LENGTH:
            raise ValueError(f"action must be 1-{ACTION_MAX_LENGTH} characters")
        if len(event.target) > TARGET_MAX_LENGTH:
            raise ValueError(f"target must be at most {TARGET_MAX_LENGTH} characters")
        prepared.append((event, *_actor_fields(event.actor), normalise_details(event.details)))
    every = checkpoint_every()

    with transaction.atomic():
        head = _lock_head()
        created_at = timezone.now()
        entries, to_sign = [], []
        seq, prev_hash = head.seq, head.entry_hash
        for event, actor_id, actor_label, clean_details in prepared:
            seq += 1
            entry_hash = compute_entry_hash(
                prev_hash=prev_hash,
                seq=seq,
                created_at=created_at,
                actor_id=actor_id,
                actor_label=actor_label,
                action=event.action,
                case_id=event.case_id,
                target=event.target,
                reason=event.reason,
                details=clean_details,
            )
            entries.append(
                AuditEntry(
                    seq=seq,
                    created_at=created_at,
                    actor_id=actor_id,
                    actor_label=actor_label,
                    action=event.action,
                    case_id=event.case_id,
                    target=event.target,
                    reason=event.reason,
                    details=clean_details,
                    prev_hash=prev_hash,
                    entry_hash=entry_hash,
                )
            )
            if seq % every == 0:
                to_sign.append((seq, entry_hash))
            prev_hash = entry_hash
        AuditEntry.objects.bulk_create(entries)
        head.seq, head.entry_hash = seq, prev_hash
        head.save(update_fields=["seq", "entry_hash"])
        for signed_seq, signed_hash in to_sign:
            _sign(seq=signed_seq, entry_hash=signed_hash)
    return entries


def _sign(*, seq: int, entry_hash: str) -> AuditCheckpoint:
    key = signing_key()
    created_at = timezone.now()
    signed = key.sign(checkpoint_message(seq=seq, entry_hash=entry_hash, created_at=created_at))
    return AuditCheckpoint.objects.create(
        seq=seq,
        entry_hash=entry_hash,
        created_at=created_at,
        key_id=key_id_for(key.verify_key),
        signature=base64.b64encode(signed.signature).decode("ascii"),
    )


def write_checkpoint() -> AuditCheckpoint | None:
    """Sign the current head now, unless the log is empty or the head already has a
    checkpoint (then ``None``). Idempotent and safe to run from any number of workers at
    once: it holds the head lock, so the signed hash is the newest one. The worker calls
    it regularly so the unsigned tail after the last checkpoint stays short."""
    with transaction.atomic():
        head = _lock_head()
        if head.seq == 0 or AuditCheckpoint.objects.filter(seq=head.seq).exists():
            return None
        return _sign(seq=head.seq, entry_hash=head.entry_hash)
