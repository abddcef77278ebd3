"""Compile the inbox's translations (``locale/*/LC_MESSAGES/django.po`` → ``.mo``).

Django's own ``compilemessages`` needs GNU gettext's ``msgfmt``; polib is pure Python,
so ``./livlina run``, the tests and the container image compile the same way on any
machine. The ``.mo`` files are build output and are not committed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polib
from django.core.management.base import BaseCommand

LOCALE = Path(__file__).resolve().parents[2] / "locale"


def compile_translations() -> list[Path]:
    compiled = []
    for po_path in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
            polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        compiled.append(mo_path)
    return compiled


class Command(BaseCommand):
    help = "Compile the inbox's .po translation files to .mo (pure Python)."

    def handle(self, *args: Any, **options: Any) -> None:
        for path in compile_translations():
            if options["verbosity"] > 0:
                self.stdout.write(f"compiled {path.relative_to(LOCALE.parent)}")
