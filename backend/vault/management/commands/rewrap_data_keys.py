"""Move every data key onto the active KEK, so older KEKs can be retired."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.vault.services import VaultError, rewrap_all_case_keys


class Command(BaseCommand):
    help = (
        "Re-wrap every live case data key under LIVLINA_ACTIVE_KEK. Keep the old KEKs configured "
        "until this reports success; content itself is not re-encrypted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="keys per transaction (default 500)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = rewrap_all_case_keys(batch_size=options["batch_size"])
        except (VaultError, ValueError) as exc:
            raise CommandError(f"Key rotation failed: {exc}") from exc
        self.stdout.write(f"re-wrapped {count} data keys under KEK {settings.LIVLINA_ACTIVE_KEK}")
