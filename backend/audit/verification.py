"""Verifying the audit log: the whole chain, its head and its signed checkpoints (see
docs/audit.md). Read-only; ``manage.py verify_audit`` runs it."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import nacl.exceptions
from django.db.models import Max
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
