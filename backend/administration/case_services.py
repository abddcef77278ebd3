"""A supervisor's verbs on a programme's cases: who works a case (primary and backups),
closing it, and crypto-shredding a closed one (two supervisors agree).

Each spans the apps below: closing a case revokes the defector's devices (accounts),
stops its check-in schedules (checkins), drops its pending unanswered-message checks
(messaging) and resolves its open alerts with the closing note (crisis). The caller has
asked the access policy (``policy.may_administer_cases``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend.accounts.models import Device, Programme, User
from backend.accounts.services import revoke_device
from backend.administration.models import ShredRequest
from backend.administration.services import open_case
from backend.audit.services import record_event
from backend.cases import policy
from backend.cases.models import Case, CaseAssignment, EnrollmentCode
from backend.checkins.models import Checkin, CheckinSchedule
from backend.crisis.models import Alert
from backend.crisis.services import resolve_alert
from backend.messaging.models import UnansweredCheck
from backend.problems import Problem
from backend.vault.models import CaseKey
from backend.vault.services import shred_case_key

SHRED_CONFIRM_WINDOW = timedelta(hours=24)
SHRED_STATES = ("awaiting_confirmation", "shredded")


def _bad(field: str, detail: str) -> Problem:
    return Problem(status_code=400, slug="validation", detail=detail, field=field)


def _conflict(slug: str, detail: str) -> Problem:
    return Problem(status_code=409, slug=slug, detail=detail)


def _staff_user(user_id: int) -> User | None:
    return User.objects.filter(pk=user_id, kind=User.Kind.STAFF, is_active=True).first()


def open_programme_case(
    *, programme: Programme, actor: User, alias: str, primary_contact: int, backups: list[int]
) -> Case:
    """Open a case with its primary contact and any backups, all or nothing."""
    primary = _staff_user(primary_contact)
    if primary is None or not policy.may_be_primary_contact(primary, programme.pk):
        raise _bad("primary_contact", "The primary contact must be a contact person in the programme.")
    backup_users = []
    for user_id in dict.fromkeys(backups):
        backup = _staff_user(user_id)
        if backup is None or backup == primary or not policy.may_be_backup_contact(backup, programme.pk):
            raise _bad("backups", f"Not a possible backup in this programme: {user_id}.")
        backup_users.append(backup)
    with transaction.atomic():
        case = open_case(programme=programme, alias=alias, primary_contact=primary, actor=actor)
        for backup in backup_users:
            _assign(case, backup, CaseAssignment.Role.BACKUP, actor=actor)
    return case


def _assign(case: Case, staff: User, role: str, *, actor: User) -> CaseAssignment:
    assignment, _ = CaseAssignment.objects.update_or_create(case=case, staff=staff, defaults={"role": role})
    target = f"user:{staff.pk}"
    record_event(action="case.assigned", actor=actor, case_id=case.pk, target=target, details={"role": role})
    return assignment


def _unassign(assignment: CaseAssignment, *, actor: User) -> None:
    record_event(
        action="case.unassigned",
        actor=actor,
        case_id=assignment.case_id,
        target=f"user:{assignment.staff_id}",
        details={"role": assignment.role},
    )
    assignment.delete()


def set_assignment(*, case: Case, actor: User, user_id: int, role: str) -> CaseAssignment:
    """Make someone the case's primary contact (the one before is taken off the case and
    loses access at once; the conversation carries on) or a backup."""
    staff = _staff_user(user_id)
    is_primary = role == CaseAssignment.Role.PRIMARY
    allowed = policy.may_be_primary_contact if is_primary else policy.may_be_backup_contact
    if staff is None or not allowed(staff, case.programme_id):
        who = "a contact person" if is_primary else "a contact person or on-call staff"
        raise _bad("user", f"Must be {who} in the case's programme.")
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        current = {a.staff_id: a for a in CaseAssignment.objects.filter(case=locked)}
        if is_primary:
            for assignment in current.values():
                if assignment.role == CaseAssignment.Role.PRIMARY and assignment.staff_id != staff.pk:
                    _unassign(assignment, actor=actor)
        elif staff.pk in current and current[staff.pk].role == CaseAssignment.Role.PRIMARY:
            raise _conflict("primary-required", "Name another primary contact first.")
        return _assign(locked, staff, role, actor=actor)


def remove_assignment(*, case: Case, actor: User, user_id: int) -> None:
    """Take a backup off the case; they lose access at once. The primary contact is
    replaced, never removed (``set_assignment``)."""
    with transaction.atomic():
        assignment = CaseAssignment.objects.select_for_update().filter(case=case, staff_id=user_id).first()
        if assignment is None:
            raise Problem(status_code=404, slug="not-found", detail="No such assignment.")
        if assignment.role == CaseAssignment.Role.PRIMARY:
            raise _conflict("primary-required", "Name another primary contact instead.")
        _unassign(assignment, actor=actor)


def close_case(*, case: Case, actor: User, note: str) -> Case:
    """Close the case and keep its content: the defector's devices are revoked, its
    check-in schedules stop (open check-ins are withdrawn), pending unanswered-message
    checks are dropped, unused enrollment codes expire, and every open alert is resolved
    with ``note``."""
    note = note.strip()
    if not note:
        raise _bad("note", "Say why the case is closed.")
    with transaction.atomic():
        locked = Case.objects.select_for_update().select_related("defector").get(pk=case.pk)
        if locked.status != Case.Status.OPEN:
            raise _conflict("case-closed", "The case is already closed.")
        now = timezone.now()
        locked.status, locked.closed_at = Case.Status.CLOSED, now
        locked.save(update_fields=["status", "closed_at"])
        for device in Device.objects.filter(user_id=locked.defector.user_id, revoked_at__isnull=True):
            revoke_device(device=device, actor=actor, reason="case closed")
        CheckinSchedule.objects.filter(case=locked).update(paused=True, next_due_at=None)
        Checkin.objects.filter(case=locked, status=Checkin.Status.OPEN).delete()
        UnansweredCheck.objects.filter(conversation__case=locked).delete()
        EnrollmentCode.objects.filter(case=locked, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        for alert in Alert.objects.filter(case=locked).exclude(state=Alert.State.RESOLVED).order_by("pk"):
            resolve_alert(alert=alert, user=actor, note=note)
        record_event(action="case.closed", actor=actor, case_id=locked.pk, target=f"case:{locked.pk}")
    return locked


@dataclass(frozen=True)
class ShredState:
    case: Case
    state: str  # "awaiting_confirmation" | "shredded"
    confirm_before: datetime | None


def is_shredded(case: Case) -> bool:
    return CaseKey.objects.filter(case=case, shredded_at__isnull=False).exists()


def awaiting_confirmation(now: datetime) -> Q:
    """Shred requests still waiting for a second supervisor at ``now`` (a Q over ShredRequest)."""
    return Q(confirmed_at__isnull=True, requested_at__gt=now - SHRED_CONFIRM_WINDOW)


def pending_shred(case: Case, *, now: datetime | None = None) -> ShredRequest | None:
    """The request to shred ``case`` still waiting for a second supervisor, if any."""
    rows = ShredRequest.objects.filter(awaiting_confirmation(now or timezone.now()), case=case)
    return rows.select_related("requested_by").order_by("-requested_at").first()


def request_shred(*, case: Case, actor: User) -> ShredState:
    """The first supervisor asks; a second, different supervisor confirms within 24 hours
    and the case's data key is destroyed: its content can never be read again."""
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.status != Case.Status.CLOSED:
            raise _conflict("case-open", "Close the case before shredding it.")
        if is_shredded(locked):
            raise _conflict("case-erased", "The case's content is already shredded.")
        now = timezone.now()
        pending = pending_shred(locked, now=now)
        if pending is None:
            pending = ShredRequest.objects.create(case=locked, requested_by=actor, requested_at=now)
            record_event(
                action="case.shred_requested", actor=actor, case_id=locked.pk, target=f"shred-request:{pending.pk}"
            )
            return ShredState(locked, "awaiting_confirmation", pending.requested_at + SHRED_CONFIRM_WINDOW)
        if pending.requested_by_id == actor.pk:
            raise _conflict("second-supervisor-needed", "Another supervisor must confirm.")
        pending.confirmed_by, pending.confirmed_at = actor, now
        pending.save(update_fields=["confirmed_by", "confirmed_at"])
        record_event(
            action="case.shred_confirmed",
            actor=actor,
            case_id=locked.pk,
            target=f"shred-request:{pending.pk}",
            details={"requested_by": pending.requested_by_id},
        )
        shred_case_key(case=locked, actor=actor)
    return ShredState(locked, "shredded", None)
