"""``manage.py verify_audit``: check the audit log; exit 0 when intact, 1 when not."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backend.audit.verification import verify_chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain, head and signed checkpoints. Exits 1 at the first problem."

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify_chain()
        if not result.ok:
            where = f"entry {result.first_broken_seq}" if result.first_broken_seq is not None else "the log"
            raise CommandError(
                f"audit log BROKEN at {where}: {result.problem} "
                f"({result.entries_checked} entries and {result.checkpoints_checked} checkpoints checked before it)",
                returncode=1,
            )
        self.stdout.write(f"audit log OK: {result.entries_checked} entries, {result.checkpoints_checked} checkpoints")
