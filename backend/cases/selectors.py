"""Access-checked reads of case content. A staff read is written to the audit log."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from backend.accounts.models import User
from backend.audit.services import record_event
from backend.cases import policy
from backend.cases.models import Case


def cases_for(user: User) -> QuerySet[Case]:
    return policy.visible_cases(user).select_related("defector", "programme").order_by("pk")


def case_for_reading(user: User, case_id: int, *, why: str = "") -> Case:
    """The case if ``user`` may see it ("not found" otherwise); staff reads are audited
    with the basis of their access."""
    case = policy.require_case(user, case_id)
    if user.is_staff_member:
        with transaction.atomic():
            record_event(action="case.read", actor=user, case_id=case.pk, target=f"case:{case.pk}", reason=why)
    return case
