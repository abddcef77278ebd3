"""Creating cases, assigning staff, granting temporary access (alerts, break-glass), and
filing device revocations under the defector's case.

Opening a case for a new defector also takes a data key (vault) and a conversation
(messaging), which sit above cases: ``administration.services.open_case`` does the
whole of it and calls ``create_case`` here for the case's own part."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import Defector, Device, Programme, User
from backend.audit.services import record_event
from backend.cases import policy
from backend.cases.models import AccessGrant, Case, CaseAssignment
from backend.problems import Problem

BREAK_GLASS_MIN_REASON = 15


def create_case(*, programme: Programme, alias: str, primary_contact: User, actor: User) -> Case:
    """The case's part of opening one for a new defector, with ``primary_contact`` as its
    contact person: the defector's login identity, the case, its assignment and the
    audit entry, in one transaction (call it inside the opening transaction, so the data
    key and the conversation exist with it or not at all). The actor must be a contact
    person, supervisor or admin in the programme."""
    if not policy.may_open_cases(actor, programme.pk):
        raise Problem(status_code=403, slug="forbidden", detail="Only programme staff may open cases.")
    if not policy.may_be_primary_contact(primary_contact, programme.pk):
        raise Problem(
            status_code=400,
            slug="validation",
            detail="The primary contact must be a contact person in the programme.",
            field="primary_contact",
        )
    with transaction.atomic():
        user = User(username=f"defector-{secrets.token_hex(8)}", kind=User.Kind.DEFECTOR)
        user.set_unusable_password()
        user.save()
        defector = Defector.objects.create(user=user, programme=programme, alias=alias)
        case = Case.objects.create(programme=programme, defector=defector)
        CaseAssignment.objects.create(case=case, staff=primary_contact, role=CaseAssignment.Role.PRIMARY)
        record_event(action="case.opened", actor=actor, case_id=case.pk, target=f"case:{case.pk}")
    return case


def assign_backup(*, case: Case, staff: User, actor: User) -> CaseAssignment:
    """Add a backup contact person. Only the primary contact or a supervisor may."""
    if not policy.may_assign_backup(actor, case):
        raise Problem(status_code=403, slug="forbidden", detail="Only the primary contact or a supervisor may assign.")
    if not policy.may_be_backup_contact(staff, case.programme_id):
        raise Problem(status_code=400, slug="validation", detail="Not staff in this programme.", field="staff")
    with transaction.atomic():
        assignment, _ = CaseAssignment.objects.get_or_create(
            case=case, staff=staff, defaults={"role": CaseAssignment.Role.BACKUP}
        )
        record_event(action="case.assigned", actor=actor, case_id=case.pk, target=f"user:{staff.pk}")
    return assignment


def open_break_glass(*, case_id: int, supervisor: User, reason: str) -> AccessGrant:
    """A supervisor opens a case they are not on, for ``LIVLINA_BREAK_GLASS_TTL``, with a
    written reason that goes into the audit log. Anyone else gets "not found"."""
    case = Case.objects.filter(pk=case_id).first()
    if case is None or not policy.may_break_glass(supervisor, case.programme_id):
        raise Problem(status_code=404, slug="not-found", detail="No such case.")
    reason = reason.strip()
    if len(reason) < BREAK_GLASS_MIN_REASON:
        raise Problem(
            status_code=400,
            slug="validation",
            detail=f"Write a reason of at least {BREAK_GLASS_MIN_REASON} characters.",
            field="reason",
        )
    with transaction.atomic():
        grant = AccessGrant.objects.create(
            case=case,
            staff=supervisor,
            basis=AccessGrant.Basis.BREAK_GLASS,
            reason=reason,
            expires_at=timezone.now() + settings.LIVLINA_BREAK_GLASS_TTL,
        )
        record_event(
            action="case.break_glass", actor=supervisor, case_id=case.pk, target=f"grant:{grant.pk}", reason=reason
        )
    return grant


def grant_alert_access(*, case: Case, staff: User, alert_ref: str, reason: str) -> AccessGrant:
    """Access for staff holding an alert on a case they are not assigned to; the crisis
    app calls this when it hands an alert to someone and ``end_alert_access`` when the
    alert is resolved. Must be called inside the caller's transaction."""
    grant = AccessGrant.objects.create(
        case=case, staff=staff, basis=AccessGrant.Basis.ALERT, reason=reason, source=alert_ref
    )
    record_event(action="case.alert_access", actor=staff, case_id=case.pk, target=alert_ref, reason=reason)
    return grant


def end_alert_access(*, alert_ref: str) -> int:
    return AccessGrant.objects.filter(source=alert_ref, ended_at__isnull=True).update(ended_at=timezone.now())


def audit_device_revocation(*, device: Device, actor: User | None, action: str, reason: str, **kwargs: object) -> None:
    """Receives ``accounts.signals.device_revoked`` inside the revoking transaction and
    writes the revocation's audit entry, filed under the defector's case (no case for a
    staff phone). The signal's ``sender`` arrives in ``kwargs``: one sender, nothing to tell."""
    case = policy.case_of_defector(device.user_id)
    record_event(
        action=action, actor=actor, case_id=case.pk if case else None, target=f"device:{device.pk}", reason=reason
    )
