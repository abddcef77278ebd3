"""``manage.py audit_checkpoint``: sign the audit log's current head now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from backend.audit.services import write_checkpoint


class Command(BaseCommand):
    help = "Write a signed checkpoint for the newest audit entry (no-op if it already has one)."

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoint = write_checkpoint()
        if checkpoint is None:
            self.stdout.write("no new checkpoint: the log is empty or its newest entry is already signed")
            return
        self.stdout.write(
            f"checkpoint at seq {checkpoint.seq}: entry_hash={checkpoint.entry_hash} "
            f"key_id={checkpoint.key_id} created_at={checkpoint.created_at.isoformat()} "
            f"signature={checkpoint.signature}"
        )
