"""Verifying the audit log: the whole chain, its head and its signed checkpoints (see
docs/audit.md). Read-only; ``manage.py verify_audit`` runs it."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
from django.db.models import Max, QuerySet
from nacl.signing import VerifyKey

from backend.audit.hashing import checkpoint_every, checkpoint_message, compute_entry_hash, key_id_for, signing_key
from backend.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEntry, AuditHead

_VERIFY_CHUNK = 2000


@dataclass(frozen=True)
class VerificationResult:
    """What ``verify_chain`` found: ``ok``, how far it got, and the first problem."""

    ok: bool
    entries_checked: int
    checkpoints_checked: int
    first_broken_seq: int | None
    problem: str


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


@dataclass(frozen=True)
class _Break:
    """Where the chain breaks (None: no single entry to name) and what is wrong."""

    seq: int | None
    problem: str


@dataclass
class _Walk:
    """How far the walk over the entries got, and the break that stopped it."""

    checked: int = 0
    checkpoints_checked: int = 0
    last_checkpoint_seq: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    broken: _Break | None = None


_ENTRY_FIELDS = (
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
)


def _entry_break(row: dict[str, Any], expected_seq: int, prev_hash: str) -> _Break | None:
    """An entry out of sequence, not linked to the one before it, or altered."""
    seq = row["seq"]
    if seq > expected_seq:
        return _Break(expected_seq, f"entry {expected_seq} is missing (the next entry is {seq})")
    if seq < expected_seq:
        return _Break(seq, f"unexpected entry {seq} where entry {expected_seq} should be")
    if row["prev_hash"] != prev_hash:
        return _Break(
            seq,
            f"entry {seq}'s prev_hash does not link to entry {seq - 1}: an entry was removed, inserted or reordered",
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
        return _Break(seq, f"entry {seq} was altered: its content does not match its entry_hash")
    return None


def _walk_entries(
    entries: QuerySet[AuditEntry], checkpoints: dict[int, AuditCheckpoint], verify_key: VerifyKey
) -> _Walk:
    """Every entry in order, each against the one before it and its checkpoint, up to the
    first break."""
    walk = _Walk()
    for row in entries.values(*_ENTRY_FIELDS).iterator(chunk_size=_VERIFY_CHUNK):
        seq = row["seq"]
        walk.broken = _entry_break(row, walk.last_seq + 1, walk.last_hash)
        checkpoint = checkpoints.get(seq)
        if walk.broken is None and checkpoint is not None:
            problem = _check_checkpoint(checkpoint, row["entry_hash"], verify_key)
            if problem:
                walk.broken = _Break(seq, problem)
            else:
                walk.checkpoints_checked += 1
                walk.last_checkpoint_seq = seq
        if walk.broken is not None:
            return walk
        walk.checked += 1
        walk.last_hash = row["entry_hash"]
        walk.last_seq = seq
    return walk


def _head_break(head: AuditHead, walk: _Walk) -> _Break | None:
    """The walk ended before the entry the head names, or on a different hash."""
    if head.seq > walk.last_seq:
        return _Break(
            walk.last_seq + 1,
            f"the log ends at entry {walk.last_seq} but the head names entry {head.seq}: "
            "entries at the end were removed",
        )
    if head.entry_hash != walk.last_hash:
        return _Break(walk.last_seq, f"the head's hash disagrees with entry {walk.last_seq}")
    return None


def _beyond_head_break(checkpoints: dict[int, AuditCheckpoint], last_seq: int) -> _Break | None:
    """Entries or checkpoints that ``record_event`` could not have written."""
    # Anything committed before this second look at the head is covered by it, so
    # entries or checkpoints beyond it were not written by record_event.
    max_entry_seq = AuditEntry.objects.aggregate(m=Max("seq"))["m"] or 0
    head_now = AuditHead.objects.filter(pk=AuditHead.SINGLETON_PK).first()
    head_now_seq = head_now.seq if head_now is not None else 0
    if max_entry_seq > head_now_seq:
        return _Break(head_now_seq + 1, f"entry {max_entry_seq} exists beyond the head (entry {head_now_seq})")
    stray = [cp_seq for cp_seq in checkpoints if cp_seq < 1]
    if stray:
        return _Break(None, f"a checkpoint names entry {min(stray)}, which cannot exist")
    beyond = [cp_seq for cp_seq in checkpoints if cp_seq > head_now_seq]
    if beyond:
        return _Break(
            last_seq + 1,
            f"a checkpoint names entry {min(beyond)}, but the log ends at entry {last_seq}: "
            "entries at the end were removed",
        )
    return None


def _missing_checkpoint_break(head: AuditHead, walk: _Walk, every: int) -> _Break | None:
    behind = head.seq - walk.last_checkpoint_seq
    if behind >= every:
        return _Break(
            walk.last_checkpoint_seq + 1,
            f"{behind} entries follow the last checkpoint (seq {walk.last_checkpoint_seq}), "
            f"but one is written every {every}: checkpoints were removed",
        )
    return None


def _end_break(
    walk: _Walk, head: AuditHead | None, checkpoints: dict[int, AuditCheckpoint], every: int
) -> _Break | None:
    """What a walk that reached the end cannot see on its own: the head, what lies beyond
    it, and checkpoints that should be there."""
    if head is None:
        if walk.last_seq:
            return _Break(None, f"the head row is missing while the log has {walk.last_seq} entries")
        return None
    return (
        _head_break(head, walk)
        or _beyond_head_break(checkpoints, walk.last_seq)
        or _missing_checkpoint_break(head, walk, every)
    )


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
    verify_key = signing_key().verify_key
    every = checkpoint_every()

    head = AuditHead.objects.filter(pk=AuditHead.SINGLETON_PK).first()
    checkpoints = {cp.seq: cp for cp in AuditCheckpoint.objects.order_by("seq")}

    entries = AuditEntry.objects.order_by("seq")
    if head is not None:
        entries = entries.filter(seq__lte=head.seq)

    walk = _walk_entries(entries, checkpoints, verify_key)
    broken = walk.broken or _end_break(walk, head, checkpoints, every)
    if broken is not None:
        return VerificationResult(False, walk.checked, walk.checkpoints_checked, broken.seq, broken.problem)
    return VerificationResult(True, walk.checked, walk.checkpoints_checked, None, "")
