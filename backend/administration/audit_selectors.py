"""A programme's part of the audit log, for its supervisors and admins.

One installation keeps one hash chain for every programme, so a programme's view is a
filter over it: entries tagged with the programme (``details.programme``), entries about
its cases, and what its own staff did outside any case; plus its own staff's entries on
cases it has since transferred away. A case moved here brings its history with it.
Whoever is not staff of the programme is shown without a name, so a transfer tells the
sending programme nothing about who accepted it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from backend.accounts.models import Programme, StaffRole, User
from backend.administration.models import CaseTransfer
from backend.audit.models import AuditEntry
from backend.audit.services import record_event
from backend.cases.models import Case

OUTSIDE_LABEL = "(outside this programme)"
MAX_EXPORT_ROWS = 50_000
# A cell a spreadsheet would run as a formula is written as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    actor: int | None = None
    case: int | None = None
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class ShownEntry:
    seq: int
    created_at: datetime
    actor_id: int | None
    actor_label: str
    action: str
    case_id: int | None
    target: str
    reason: str
    details: dict[str, Any]


def _staff_ids(programme: Programme) -> set[int]:
    return set(StaffRole.objects.filter(programme=programme).values_list("user_id", flat=True))


def programme_entries(programme: Programme, wanted: AuditFilter) -> QuerySet[AuditEntry]:
    """The programme's entries matching ``wanted``, newest first."""
    staff = _staff_ids(programme)
    cases = Case.objects.filter(programme=programme).values("pk")
    moved_away = CaseTransfer.objects.filter(from_programme=programme, state=CaseTransfer.State.ACCEPTED).values(
        "case_id"
    )
    scope = (
        Q(details__programme=programme.pk)
        | Q(case_id__in=cases)
        | Q(actor_id__in=staff, case_id__in=moved_away)
        | (Q(actor_id__in=staff, case_id__isnull=True) & ~Q(details__has_key="programme"))
    )
    rows = AuditEntry.objects.filter(scope)
    if wanted.actor is not None:
        rows = rows.filter(actor_id=wanted.actor)
    if wanted.case is not None:
        rows = rows.filter(case_id=wanted.case)
    if wanted.action:
        rows = rows.filter(action__startswith=wanted.action)
    if wanted.since is not None:
        rows = rows.filter(created_at__gte=wanted.since)
    if wanted.until is not None:
        rows = rows.filter(created_at__lt=wanted.until)
    return rows.order_by("-seq")


def shown(programme: Programme, entries: Iterable[AuditEntry]) -> list[ShownEntry]:
    staff = _staff_ids(programme)
    out = []
    for entry in entries:
        ours = entry.actor_id is None or entry.actor_id in staff
        out.append(
            ShownEntry(
                seq=entry.seq,
                created_at=entry.created_at,
                actor_id=entry.actor_id if ours else None,
                actor_label=entry.actor_label if ours else OUTSIDE_LABEL,
                action=entry.action,
                case_id=entry.case_id,
                target=entry.target if ours else "",
                reason=entry.reason if ours else "",
                details=entry.details,
            )
        )
    return out


CSV_COLUMNS = ("seq", "created_at", "actor_id", "actor_label", "action", "case_id", "target", "reason", "details")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def as_csv(entries: Iterable[ShownEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        row = (
            e.seq,
            e.created_at.isoformat(),
            e.actor_id,
            e.actor_label,
            e.action,
            e.case_id,
            e.target,
            e.reason,
            e.details,
        )
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def exported_csv(programme: Programme, wanted: AuditFilter, *, actor: User) -> str:
    """The entries matching ``wanted`` as CSV (at most ``MAX_EXPORT_ROWS``, newest first),
    for the API and the inbox alike: an export is itself audited, with its actor and the
    number of rows it carried."""
    entries = shown(programme, programme_entries(programme, wanted)[:MAX_EXPORT_ROWS])
    with transaction.atomic():
        record_event(
            action="audit.exported",
            actor=actor,
            target=f"programme:{programme.pk}",
            details={"programme": programme.pk, "rows": len(entries)},
        )
    return as_csv(entries)
