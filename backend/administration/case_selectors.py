"""A programme's cases as a supervisor administers them: who works each (primary contact
and backups), whether it is open, closed or shredded, a pending shred request and a
pending transfer. Nothing here reads a case's content: deciding who works a case gives
no access to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from backend.accounts.models import Programme, User
from backend.administration.case_services import SHRED_CONFIRM_WINDOW, awaiting_confirmation
from backend.administration.models import CaseTransfer, ShredRequest
from backend.cases.models import Case, CaseAssignment
from backend.vault.models import CaseKey


@dataclass
class CaseSummary:
    case: Case
    primary: User | None = None
    backups: list[User] = field(default_factory=list)
    shredded: bool = False
    shred_request: ShredRequest | None = None  # waiting for a second supervisor
    pending_transfer: CaseTransfer | None = None  # waiting for the receiving programme

    @property
    def state(self) -> str:
        """``open``, ``closed`` or ``shredded``."""
        if self.shredded:
            return "shredded"
        return str(self.case.status)

    @property
    def shred_confirm_before(self) -> datetime | None:
        return self.shred_request.requested_at + SHRED_CONFIRM_WINDOW if self.shred_request else None


def _summaries(cases: list[Case], *, now: datetime) -> list[CaseSummary]:
    """Five queries, however many cases."""
    by_id = {case.pk: CaseSummary(case) for case in cases}
    assignments = CaseAssignment.objects.filter(case_id__in=list(by_id)).select_related("staff")
    for assignment in assignments.order_by("created_at", "pk"):
        summary = by_id[assignment.case_id]
        if assignment.role == CaseAssignment.Role.PRIMARY:
            summary.primary = assignment.staff
        else:
            summary.backups.append(assignment.staff)
    shredded = CaseKey.objects.filter(case_id__in=list(by_id), shredded_at__isnull=False)
    for case_id in shredded.values_list("case_id", flat=True):
        by_id[case_id].shredded = True
    requests = ShredRequest.objects.filter(awaiting_confirmation(now), case_id__in=list(by_id))
    for request in requests.select_related("requested_by").order_by("requested_at"):
        by_id[request.case_id].shred_request = request
    transfers = CaseTransfer.objects.filter(
        case_id__in=list(by_id), state=CaseTransfer.State.PROPOSED, expires_at__gt=now
    )
    for transfer in transfers.select_related("to_programme"):
        by_id[transfer.case_id].pending_transfer = transfer
    return list(by_id.values())


def programme_cases(programme: Programme, *, now: datetime | None = None) -> list[CaseSummary]:
    """Every case of the programme, the open ones first, then by alias."""
    cases = Case.objects.filter(programme=programme).select_related("defector")
    ordered = sorted(cases, key=lambda case: (case.status != Case.Status.OPEN, case.defector.alias.casefold(), case.pk))
    summaries = _summaries(ordered, now=now or timezone.now())
    # Shredded cases after the closed ones that still hold their content.
    return sorted(summaries, key=lambda s: ("open", "closed", "shredded").index(s.state))


def case_summary(case: Case, *, now: datetime | None = None) -> CaseSummary:
    return _summaries([case], now=now or timezone.now())[0]
