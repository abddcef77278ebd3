"""Access-checked reads of case content. A staff read is written to the audit log."""

from __future__ import annotations

from django.db.models import QuerySet

from backend.accounts.models import User
from backend.audit.services import AuditEvent, record_events
from backend.cases import policy
from backend.cases.models import Case


def cases_for(user: User) -> QuerySet[Case]:
    return policy.visible_cases(user).select_related("defector", "programme").order_by("pk")


def case_read_event(user: User, case: Case, *, why: str = "") -> AuditEvent | None:
    """The audit entry of ``user`` reading ``case``, with the basis of their access: every
    staff read has one (a defector reading their own case has none)."""
    if not user.is_staff_member:
        return None
    return AuditEvent(action="case.read", actor=user, case_id=case.pk, target=f"case:{case.pk}", reason=why)


def case_for_reading(user: User, case_id: int, *, why: str = "") -> Case:
    """The case if ``user`` may see it ("not found" otherwise); staff reads are audited
    with the basis of their access."""
    case = policy.require_case(user, case_id)
    event = case_read_event(user, case, why=why)
    if event is not None:
        record_events([event])
    return case
