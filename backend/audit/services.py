"""Writing and verifying the audit log (see docs/audit.md).

Every entry commits to the one before it: ``entry_hash = BLAKE2b-256(prev_hash +
canonical JSON of the entry's content)``. Anyone who edits, removes or reorders entries
with SQL breaks the chain; anyone who then recomputes the whole chain to hide that is
caught by the Ed25519-signed checkpoints, as long as they do not hold the signing key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nacl.exceptions
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from nacl.signing import SigningKey, VerifyKey

from backend.audit.models import (
    ACTION_MAX_LENGTH,
    GENESIS_HASH,
    TARGET_MAX_LENGTH,
    AuditCheckpoint,
    AuditEntry,
    AuditHead,
)

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditIntegrityError",
    "VerificationResult",
    "record_event",
    "record_events",
    "verify_chain",
    "write_checkpoint",
]

HASH_FORMAT_VERSION = 1
CHECKPOINT_DOMAIN = "livlina-audit-checkpoint"
_VERIFY_CHUNK = 2000


class AuditIntegrityError(RuntimeError):
    """The log is in a state an append must not build on (e.g. its head row is gone)."""


@dataclass(frozen=True)
class VerificationResult:
    """What ``verify_chain`` found: ``ok``, how far it got, and the first problem."""

    ok: bool
    entries_checked: int
    checkpoints_checked: int
    first_broken_seq: int | None
    problem: str


# --- hashing and signing -----------------------------------------------------------


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _iso(moment: datetime) -> str:
    # Both SQLite and PostgreSQL keep microseconds; normalising to UTC makes the string
    # independent of the connection's time zone.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _jsonable(value: Any) -> Any:
    """Reduce ``value`` to what survives a JSON column byte-for-byte on every backend.

    Floats are turned into strings: PostgreSQL's jsonb rewrites some of them (``1e+16``
    comes back as the integer ``10000000000000000``), which would break the hash.
    """
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _normalise_details(details: dict[str, Any] | None) -> dict[str, Any]:
    if not details:
        return {}
    # DjangoJSONEncoder turns datetimes, UUIDs and Decimals into strings; the round trip
    # makes the stored value exactly the hashed value.
    loaded = json.loads(json.dumps(details, cls=DjangoJSONEncoder))
    normalised = _jsonable(loaded)
    assert isinstance(normalised, dict)
    return normalised


def compute_entry_hash(
    *,
    prev_hash: str,
    seq: int,
    created_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    case_id: int | None,
    target: str,
    reason: str,
    details: Any,
) -> str:
    """BLAKE2b-256 (hex) of ``prev_hash`` followed by the canonical JSON of the content."""
    content = {
        "v": HASH_FORMAT_VERSION,
        "seq": seq,
        "created_at": _iso(created_at),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "case_id": case_id,
        "target": target,
        "reason": reason,
        "details": details,
    }
    digest = hashlib.blake2b(digest_size=32)
    digest.update(prev_hash.encode("ascii"))
    digest.update(_canonical_json(content).encode("utf-8"))
    return digest.hexdigest()


def _signing_key() -> SigningKey:
    return SigningKey(bytes(settings.LIVLINA_AUDIT_SIGNING_KEY))


def key_id_for(verify_key: VerifyKey) -> str:
    """The first 16 hex digits of the public key: names the key that signed a checkpoint."""
    return bytes(verify_key).hex()[:16]


def checkpoint_message(*, seq: int, entry_hash: str, created_at: datetime) -> bytes:
    return f"{CHECKPOINT_DOMAIN}|{seq}|{entry_hash}|{_iso(created_at)}".encode("ascii")


def _checkpoint_every() -> int:
    every = int(settings.LIVLINA_AUDIT_CHECKPOINT_EVERY)
    if every < 1:
        raise ImproperlyConfigured("LIVLINA_AUDIT_CHECKPOINT_EVERY must be at least 1")
    return every


# --- writing -------------------------------------------------------------------------


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


def record_event(
    *,
    action: str,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    case_id: int | None = None,
    target: str = "",
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the audit log and return it.

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
    if not action or len(action) > ACTION_MAX_LENGTH:
        raise ValueError(f"action must be 1-{ACTION_MAX_LENGTH} characters")
    if len(target) > TARGET_MAX_LENGTH:
        raise ValueError(f"target must be at most {TARGET_MAX_LENGTH} characters")
    actor_id, actor_label = _actor_fields(actor)
    clean_details = _normalise_details(details)
    every = _checkpoint_every()

    with transaction.atomic():
        head = _lock_head()
        seq = head.seq + 1
        created_at = timezone.now()
        entry_hash = compute_entry_hash(
            prev_hash=head.entry_hash,
            seq=seq,
            created_at=created_at,
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            case_id=case_id,
            target=target,
            reason=reason,
            details=clean_details,
        )
        entry = AuditEntry(
            seq=seq,
            created_at=created_at,
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            case_id=case_id,
            target=target,
            reason=reason,
            details=clean_details,
            prev_hash=head.entry_hash,
            entry_hash=entry_hash,
        )
        entry.save(force_insert=True)
        head.seq = seq
        head.entry_hash = entry_hash
        head.save(update_fields=["seq", "entry_hash"])
        if seq % every == 0:
            _sign_head(head)
    return entry


@dataclass(frozen=True)
class AuditEvent:
    """One entry for ``record_events``; the fields mean what ``record_event``'s arguments do."""

    action: str
    actor: AbstractBaseUser | AnonymousUser | None = None
    case_id: int | None = None
    target: str = ""
    reason: str = ""
    details: dict[str, Any] | None = None


def record_events(events: list[AuditEvent]) -> list[AuditEntry]:
    """Append several entries in order, with the guarantees of ``record_event`` (one
    transaction with the caller's change, one contiguous chain, a signed checkpoint at
    every ``LIVLINA_AUDIT_CHECKPOINT_EVERY``-th entry), but one head lock and one insert
    for all of them: the worker's bulk paths hold the head lock for milliseconds."""
    if not events:
        return []
    prepared = []
    for event in events:
        if not event.action or len(event.action) > ACTION_MAX_LENGTH:
            raise ValueError(f"action must be 1-{ACTION_MAX_LENGTH} characters")
        if len(event.target) > TARGET_MAX_LENGTH:
            raise ValueError(f"target must be at most {TARGET_MAX_LENGTH} characters")
        prepared.append((event, *_actor_fields(event.actor), _normalise_details(event.details)))
    every = _checkpoint_every()

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


def _sign_head(head: AuditHead) -> AuditCheckpoint:
    return _sign(seq=head.seq, entry_hash=head.entry_hash)


def _sign(*, seq: int, entry_hash: str) -> AuditCheckpoint:
    key = _signing_key()
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
        return _sign_head(head)


# --- verifying -----------------------------------------------------------------------


def _signature_valid(checkpoint: AuditCheckpoint, verify_key: VerifyKey) -> bool:
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        message = checkpoint_message(
            seq=checkpoint.seq, entry_hash=checkpoint.entry_hash, created_at=checkpoint.created_at
        )
        verify_key.verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError, binascii.Error):
        return False
    return True


def _check_checkpoint(checkpoint: AuditCheckpoint, entry_hash: str, verify_key: VerifyKey) -> str:
    """The problem with ``checkpoint``, or an empty string when it is genuine and matches
    the entry at its seq."""
    expected_key_id = key_id_for(verify_key)
    if checkpoint.key_id != expected_key_id:
        return (
            f"checkpoint at seq {checkpoint.seq} names key {checkpoint.key_id!r}, "
            f"not the current audit key {expected_key_id!r}"
        )
    if not _signature_valid(checkpoint, verify_key):
        return f"checkpoint at seq {checkpoint.seq} has an invalid signature (forged or altered checkpoint)"
    if checkpoint.entry_hash != entry_hash:
        return f"entry {checkpoint.seq} does not match its signed checkpoint: the chain up to it was rewritten"
    return ""


def verify_chain() -> VerificationResult:
    """Check the whole log and stop at the first problem.

    Detects: an altered entry (its hash no longer matches its content), a removed,
    inserted or reordered entry (a gap in ``seq`` or a ``prev_hash`` that does not link),
    a removed tail (the head row names a later entry, or a checkpoint names an entry that
    is gone), entries beyond the head, a checkpoint whose Ed25519 signature does not
    verify, a checkpoint whose hash differs from the entry at its seq (the whole chain
    was recomputed by someone without the signing key), and missing checkpoints (more
    than ``LIVLINA_AUDIT_CHECKPOINT_EVERY`` entries after the last one).

    Read-only and lock-free: writers keep appending while it runs. It reads the head
    before the checkpoints and walks only the entries the head covered, so concurrent
    appends are not mistaken for tampering.
    """
    verify_key = _signing_key().verify_key
    every = _checkpoint_every()

    head = AuditHead.objects.filter(pk=AuditHead.SINGLETON_PK).first()
    checkpoints = {cp.seq: cp for cp in AuditCheckpoint.objects.order_by("seq")}

    entries = AuditEntry.objects.order_by("seq")
    if head is not None:
        entries = entries.filter(seq__lte=head.seq)

    checked = 0
    checkpoints_checked = 0
    last_checkpoint_seq = 0
    expected_seq = 1
    prev_hash = GENESIS_HASH

    def broken(seq: int | None, problem: str) -> VerificationResult:
        return VerificationResult(False, checked, checkpoints_checked, seq, problem)

    for row in entries.values(
        "seq",
        "created_at",
        "actor_id",
        "actor_label",
        "action",
        "case_id",
        "target",
        "reason",
        "details",
        "prev_hash",
        "entry_hash",
    ).iterator(chunk_size=_VERIFY_CHUNK):
        seq = row["seq"]
        if seq != expected_seq:
            if seq > expected_seq:
                return broken(expected_seq, f"entry {expected_seq} is missing (the next entry is {seq})")
            return broken(seq, f"unexpected entry {seq} where entry {expected_seq} should be")
        if row["prev_hash"] != prev_hash:
            return broken(
                seq,
                f"entry {seq}'s prev_hash does not link to entry {seq - 1}: "
                "an entry was removed, inserted or reordered",
            )
        recomputed = compute_entry_hash(
            prev_hash=prev_hash,
            seq=seq,
            created_at=row["created_at"],
            actor_id=row["actor_id"],
            actor_label=row["actor_label"],
            action=row["action"],
            case_id=row["case_id"],
            target=row["target"],
            reason=row["reason"],
            details=row["details"],
        )
        if recomputed != row["entry_hash"]:
            return broken(seq, f"entry {seq} was altered: its content does not match its entry_hash")
        checkpoint = checkpoints.get(seq)
        if checkpoint is not None:
            problem = _check_checkpoint(checkpoint, row["entry_hash"], verify_key)
            if problem:
                return broken(seq, problem)
            checkpoints_checked += 1
            last_checkpoint_seq = seq
        checked += 1
        prev_hash = row["entry_hash"]
        expected_seq = seq + 1

    last_seq = expected_seq - 1
    if head is None:
        if last_seq:
            return broken(None, f"the head row is missing while the log has {last_seq} entries")
        return VerificationResult(True, 0, 0, None, "")
    if head.seq > last_seq:
        return broken(
            last_seq + 1,
            f"the log ends at entry {last_seq} but the head names entry {head.seq}: entries at the end were removed",
        )
    if head.entry_hash != prev_hash:
        return broken(last_seq, f"the head's hash disagrees with entry {last_seq}")

    # Anything committed before this second look at the head is covered by it, so
    # entries or checkpoints beyond it were not written by record_event.
    max_entry_seq = AuditEntry.objects.aggregate(m=Max("seq"))["m"] or 0
    head_now = AuditHead.objects.filter(pk=AuditHead.SINGLETON_PK).first()
    head_now_seq = head_now.seq if head_now is not None else 0
    if max_entry_seq > head_now_seq:
        return broken(head_now_seq + 1, f"entry {max_entry_seq} exists beyond the head (entry {head_now_seq})")
    stray = [cp_seq for cp_seq in checkpoints if cp_seq < 1]
    if stray:
        return broken(None, f"a checkpoint names entry {min(stray)}, which cannot exist")
    beyond = [cp_seq for cp_seq in checkpoints if cp_seq > head_now_seq]
    if beyond:
        return broken(
            last_seq + 1,
            f"a checkpoint names entry {min(beyond)}, but the log ends at entry {last_seq}: "
            "entries at the end were removed",
        )
    if head.seq - last_checkpoint_seq >= every:
        return broken(
            last_checkpoint_seq + 1,
            f"{head.seq - last_checkpoint_seq} entries follow the last checkpoint (seq {last_checkpoint_seq}), "
            f"but one is written every {every}: checkpoints were removed",
        )
    return VerificationResult(True, checked, checkpoints_checked, None, "")
