"""Moving a case to another programme when its defector is relocated.

A supervisor of the sending programme proposes; a supervisor of the receiving programme
accepts (naming the new primary contact) or declines, within 7 days. Until then nothing
changes. On acceptance, in one transaction: the case, its encrypted history, its
schedules and its conversation move as they are (same ids, same data key, so the
defector's app keeps working without a new enrollment); every assignment, grant and
alert recipient of the sending programme ends, so its staff lose access at once; open
alerts start escalating again from the top under the receiving programme's policy; and
both programmes' audit trails record the move. What the sending programme can learn
afterwards is the proposal's state ("accepted"): never the new contact person."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from backend.accounts.models import Defector, Programme, User
from backend.administration.models import CaseTransfer
from backend.audit.services import AuditEvent, record_event, record_events
from backend.cases import policy
from backend.cases.models import AccessGrant, Case, CaseAssignment, EnrollmentCode
from backend.crisis.models import Alert, AlertRecipient
from backend.crisis.services import add_event, policy_snapshot
from backend.problems import Problem

TRANSFER_TTL = timedelta(days=7)


def _not_found() -> Problem:
    return Problem(status_code=404, slug="not-found", detail="No such transfer.")


def _conflict(slug: str, detail: str) -> Problem:
    return Problem(status_code=409, slug=slug, detail=detail)


def _expire_lapsed(now: datetime) -> None:
    CaseTransfer.objects.filter(state=CaseTransfer.State.PROPOSED, expires_at__lte=now).update(
        state=CaseTransfer.State.EXPIRED
    )


def propose_transfer(*, case: Case, actor: User, to_programme: int) -> CaseTransfer:
    """The caller is a supervisor of the case's programme (``policy.may_administer_cases``)."""
    target = Programme.objects.filter(pk=to_programme).exclude(pk=case.programme_id).first()
    if target is None:
        raise Problem(
            status_code=400,
            slug="validation",
            detail="Name another programme of this installation.",
            field="to_programme",
        )
    now = timezone.now()
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.status != Case.Status.OPEN:
            raise _conflict("case-closed", "Only an open case can move.")
        _expire_lapsed(now)
        if CaseTransfer.objects.filter(case=locked, state=CaseTransfer.State.PROPOSED).exists():
            raise _conflict("transfer-pending", "A transfer of this case is already waiting for an answer.")
        transfer = CaseTransfer.objects.create(
            case=locked,
            from_programme_id=locked.programme_id,
            to_programme=target,
            proposed_by=actor,
            created_at=now,
            expires_at=now + TRANSFER_TTL,
        )
        record_event(
            action="case.transfer_proposed",
            actor=actor,
            case_id=locked.pk,
            target=f"transfer:{transfer.pk}",
            details={"programme": locked.programme_id, "to_programme": target.pk},
        )
    return transfer


def transfers_for(user: User) -> QuerySet[CaseTransfer]:
    """The transfers a supervisor may see: those into or out of a programme they supervise."""
    supervised = policy.administered_programme_ids(user)
    _expire_lapsed(timezone.now())
    rows = CaseTransfer.objects.filter(Q(from_programme_id__in=supervised) | Q(to_programme_id__in=supervised))
    return rows.select_related("case__defector", "from_programme", "to_programme").order_by("-created_at")


def transfer_for_receiver(user: User, transfer_id: int) -> CaseTransfer:
    """A transfer into a programme ``user`` works in; "not found" for anyone else, and
    "forbidden" for its staff who are not supervisors."""
    transfer = CaseTransfer.objects.select_related("case", "to_programme").filter(pk=transfer_id).first()
    if transfer is None or not policy.works_in_programme(user, transfer.to_programme_id):
        raise _not_found()
    if not policy.may_administer_cases(user, transfer.to_programme_id):
        raise Problem(status_code=403, slug="forbidden", detail="Only the receiving programme's supervisors decide.")
    return transfer


def _lock_open(transfer: CaseTransfer, now: datetime) -> CaseTransfer:
    locked = CaseTransfer.objects.select_for_update().get(pk=transfer.pk)
    if locked.state == CaseTransfer.State.PROPOSED and locked.expires_at <= now:
        locked.state = CaseTransfer.State.EXPIRED
        locked.save(update_fields=["state"])
    if locked.state == CaseTransfer.State.EXPIRED:
        raise _conflict("transfer-expired", "The proposal expired; the sending programme may propose again.")
    if locked.state != CaseTransfer.State.PROPOSED:
        raise _conflict("transfer-decided", f"The transfer was already {locked.state}.")
    return locked


def _both_trails(transfer: CaseTransfer, action: str, actor: User) -> None:
    """One entry for each programme's audit trail (the programme named in ``details``)."""
    target = f"transfer:{transfer.pk}"
    record_events(
        [
            AuditEvent(
                action=f"{action}_out",
                actor=actor,
                case_id=transfer.case_id,
                target=target,
                details={"programme": transfer.from_programme_id},
            ),
            AuditEvent(
                action=f"{action}_in",
                actor=actor,
                case_id=transfer.case_id,
                target=target,
                details={"programme": transfer.to_programme_id},
            ),
        ]
    )


def accept_transfer(*, transfer: CaseTransfer, actor: User, primary_contact: int) -> CaseTransfer:
    primary = User.objects.filter(pk=primary_contact, kind=User.Kind.STAFF, is_active=True).first()
    if primary is None or not policy.may_be_primary_contact(primary, transfer.to_programme_id):
        raise Problem(
            status_code=400,
            slug="validation",
            detail="The primary contact must be a contact person in the receiving programme.",
            field="primary_contact",
        )
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_open(transfer, now)
        case = Case.objects.select_for_update().get(pk=locked.case_id)
        if case.status != Case.Status.OPEN or case.programme_id != locked.from_programme_id:
            raise _conflict("case-changed", "The case was closed or moved meanwhile.")
        _move(case, locked.to_programme_id, now=now)
        CaseAssignment.objects.create(case=case, staff=primary, role=CaseAssignment.Role.PRIMARY)
        _restart_open_alerts(case, now=now)
        locked.state, locked.decided_by, locked.decided_at = CaseTransfer.State.ACCEPTED, actor, now
        locked.save(update_fields=["state", "decided_by", "decided_at"])
        _both_trails(locked, "case.transferred", actor)
        record_event(
            action="case.assigned",
            actor=actor,
            case_id=case.pk,
            target=f"user:{primary.pk}",
            details={"role": CaseAssignment.Role.PRIMARY.value, "programme": locked.to_programme_id},
        )
    return locked


def _move(case: Case, to_programme_id: int, *, now: datetime) -> None:
    """The case and its defector change programme; everyone who had access through the
    sending programme loses it."""
    case.programme_id = to_programme_id
    case.save(update_fields=["programme"])
    Defector.objects.filter(pk=case.defector_id).update(programme_id=to_programme_id)
    CaseAssignment.objects.filter(case=case).delete()
    AccessGrant.objects.filter(policy.active_grants(now=now), case=case).update(ended_at=now)
    AlertRecipient.objects.filter(alert__case=case).delete()
    EnrollmentCode.objects.filter(case=case, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)


def _restart_open_alerts(case: Case, *, now: datetime) -> None:
    """Unresolved alerts escalate again from the top, under the receiving programme's
    policy: whoever acknowledged one in the sending programme no longer sees it."""
    for alert in Alert.objects.select_for_update().filter(case=case).exclude(state=Alert.State.RESOLVED):
        alert.escalation = policy_snapshot(case, alert.severity)
        alert.state = Alert.State.OPEN
        alert.step_index = alert.round = 0
        alert.next_step_at, alert.updated_at = now, now
        alert.acknowledged_at = alert.acknowledged_by = alert.reopen_at = alert.lease_until = None
        alert.lease_owner = ""
        alert.save()
        add_event(alert, "transferred")


def decline_transfer(*, transfer: CaseTransfer, actor: User) -> CaseTransfer:
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_open(transfer, now)
        locked.state, locked.decided_by, locked.decided_at = CaseTransfer.State.DECLINED, actor, now
        locked.save(update_fields=["state", "decided_by", "decided_at"])
        _both_trails(locked, "case.transfer_declined", actor)
    return locked
