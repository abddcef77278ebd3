"""The audit log: an append-only, hash-chained record of security events and of every
staff read of case content, with signed checkpoints (see docs/audit.md).

Rows are written only by ``backend.audit.services``. Nothing here points at another
table with a foreign key: deleting a user or a case must never cascade into, or rewrite,
the log, so the actor and the case are kept as plain integers.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

GENESIS_HASH = "0" * 64
ACTION_MAX_LENGTH = 64
TARGET_MAX_LENGTH = 200


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete an audit row through the ORM."""


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    # The ORM refuses to edit the log; someone with raw SQL can, and the verifier is
    # what catches that.
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit entries are append-only")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit entries are append-only")


class AuditEntry(models.Model):
    """One event. ``entry_hash`` = BLAKE2b(prev_hash + canonical JSON of the content)."""

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    actor_label = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=ACTION_MAX_LENGTH)
    case_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    target = models.CharField(max_length=TARGET_MAX_LENGTH, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=128)
    entry_hash = models.CharField(max_length=128)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["action", "created_at"], name="audit_entry_action_time_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit entries are append-only")


class AuditHead(models.Model):
    """The single row (pk=1) naming the newest entry. Appends lock it, which serializes
    writers across processes; the verifier compares it with the last entry to notice a
    cut-off tail."""

    SINGLETON_PK = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_PK)
    seq = models.PositiveBigIntegerField(default=0)
    entry_hash = models.CharField(max_length=128, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"head #{self.seq}"


class AuditCheckpoint(models.Model):
    """An Ed25519 signature over (seq, entry_hash, created_at) of the chain at ``seq``.
    Someone who can write to the database but does not hold the signing key cannot
    rewrite entries up to a checkpoint without the verifier noticing."""

    seq = models.PositiveBigIntegerField(unique=True)
    entry_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=32)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"checkpoint #{self.seq} ({self.key_id})"
