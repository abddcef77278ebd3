"""The access policy: the single answer to "may this person see this case?" and to
"may this person do that in this programme?".

- A defector sees only their own case (``own_cases``).
- Staff see cases they are assigned to, cases they hold an active grant for (an alert
  they hold, or a supervisor's break-glass opening with a written reason), and nothing
  else; a supervisor role alone opens nothing.
- What a staff member may do in a programme follows from their roles there, asked
  through the named questions at the end of this module (``may_manage_programme_settings``,
  ``may_read_phrases`` …); no other module reads staff roles to decide who may act.
Every lookup answers "not found" both when the case does not exist and when the caller
may not see it, so ids leak nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from backend.accounts.models import Device, StaffRole, User
from backend.cases.models import AccessGrant, Case, CaseAssignment
from backend.problems import Problem

_CONTACT_PERSON = StaffRole.Role.CONTACT_PERSON
_ON_CALL = StaffRole.Role.ON_CALL
_SUPERVISOR = StaffRole.Role.SUPERVISOR
# Those who manage a programme: its settings, break-glass, other staff's phones.
_MANAGERS = (StaffRole.Role.SUPERVISOR, StaffRole.Role.ADMIN)


def case_of_defector(user_id: int) -> Case | None:
    """The case of the defector who is ``user_id`` (None for staff)."""
    return Case.objects.filter(defector__user_id=user_id).first()


def active_grants(*, now: datetime) -> Q:
    """The grants in force at ``now`` (a Q over AccessGrant)."""
    return Q(ended_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def own_cases(user: User) -> QuerySet[Case]:
    """The defector's own case (at most one); nothing for staff or an inactive user. The
    gate for everything a defector reaches by id (their check-ins, their conversation)."""
    if not (user.is_active and user.is_defector):
        return Case.objects.none()
    return Case.objects.filter(defector__user=user)


def visible_cases(user: User, *, now: datetime | None = None) -> QuerySet[Case]:
    now = now or timezone.now()
    if not user.is_active:
        return Case.objects.none()
    if user.is_defector:
        return own_cases(user)
    assigned = CaseAssignment.objects.filter(staff=user).values("case_id")
    granted = AccessGrant.objects.filter(active_grants(now=now), staff=user).values("case_id")
    return Case.objects.filter(Q(pk__in=assigned) | Q(pk__in=granted))


def staff_with_access_ids(case: Case, *, now: datetime | None = None) -> list[int]:
    """The staff who may see ``case`` now: assigned, or holding an active grant."""
    return sorted(_staff_with_access_by_case([case.pk], now=now or timezone.now())[case.pk])


def staff_with_access(case: Case, *, now: datetime | None = None) -> QuerySet[User]:
    """``staff_with_access_ids`` as a query, to be read together with other people."""
    now = now or timezone.now()
    assigned = CaseAssignment.objects.filter(case=case).values("staff_id")
    granted = AccessGrant.objects.filter(active_grants(now=now), case=case).values("staff_id")
    return User.objects.filter(Q(pk__in=assigned) | Q(pk__in=granted))


def _staff_with_access_by_case(case_ids: list[int], *, now: datetime) -> defaultdict[int, set[int]]:
    staff: defaultdict[int, set[int]] = defaultdict(set)
    for case_id, staff_id in CaseAssignment.objects.filter(case_id__in=case_ids).values_list("case_id", "staff_id"):
        staff[case_id].add(staff_id)
    grants = AccessGrant.objects.filter(active_grants(now=now), case_id__in=case_ids)
    for case_id, staff_id in grants.values_list("case_id", "staff_id"):
        staff[case_id].add(staff_id)
    return staff


@dataclass(frozen=True)
class CaseAccess:
    """Who may see one case now, read in bulk for many cases at once (the message send
    path); the same rules as ``visible_cases``."""

    defector_user_id: int
    staff_ids: frozenset[int]

    def allows(self, user: User) -> bool:
        if not user.is_active:
            return False
        if user.is_defector:
            return user.pk == self.defector_user_id
        return user.pk in self.staff_ids

    def participant_ids(self) -> list[int]:
        return [self.defector_user_id, *sorted(self.staff_ids)]


def case_access(defector_user_ids: Mapping[int, int], *, now: datetime | None = None) -> dict[int, CaseAccess]:
    """``CaseAccess`` for each case in ``defector_user_ids`` (case id -> the defector's
    user id), in two queries whatever the number of cases."""
    staff = _staff_with_access_by_case(list(defector_user_ids), now=now or timezone.now())
    return {
        case_id: CaseAccess(defector_user_id, frozenset(staff[case_id]))
        for case_id, defector_user_id in defector_user_ids.items()
    }


def device_for(actor: User, device_id: uuid.UUID | str) -> Device:
    """A device ``actor`` may act on (revoke); "not found" otherwise."""
    device = Device.objects.select_related("user").filter(pk=device_id).first()
    if device is None or not may_revoke_device(actor, device):
        raise _not_found("device")
    return device


def _not_found(what: str = "case") -> Problem:
    return Problem(status_code=404, slug="not-found", detail=f"No such {what}.")


def require_case(user: User, case_id: int) -> Case:
    """The case if ``user`` may see it; otherwise "not found"."""
    case = visible_cases(user).select_related("programme", "defector").filter(pk=case_id).first()
    if case is None:
        raise _not_found()
    return case


def require_case_for_staff(user: User, case_id: int) -> Case:
    """Like ``require_case``, for actions only staff may take on a case."""
    if not user.is_staff_member:
        raise _not_found()
    return require_case(user, case_id)


def require_assigned_case(user: User, case_id: int) -> Case:
    """The case if ``user`` is assigned to it. Temporary access (an alert held,
    break-glass) is for reading and answering, not for acts that outlive it, such as
    enrolling a device as the defector."""
    case = require_case_for_staff(user, case_id)
    if not CaseAssignment.objects.filter(case=case, staff=user).exists():
        raise _not_found()
    return case


def may_revoke_device(actor: User, device: Device) -> bool:
    """The owner; staff who may see the defector's case; supervisors of that programme;
    for a staff phone, supervisors or admins of a programme the owner works in."""
    if device.user_id == actor.pk:
        return True
    if not actor.is_staff_member:
        return False
    owner = device.user
    if owner.is_defector:
        case = case_of_defector(owner.pk)
        if case is None:
            return False
        return visible_cases(actor).filter(pk=case.pk).exists() or _has_role(actor, case.programme_id, *_MANAGERS)
    owner_programmes = StaffRole.objects.filter(user=owner).values("programme_id")
    return StaffRole.objects.filter(user=actor, programme_id__in=owner_programmes, role__in=_MANAGERS).exists()


def case_devices(case: Case) -> QuerySet[Device]:
    """The defector's devices on a case (the caller has already passed ``require_case``)."""
    return Device.objects.filter(user_id=case.defector.user_id).order_by("created_at")


# --- programme roles: who may do what in a programme ---------------------------------


def _has_role(user: User, programme_id: int, *roles: str) -> bool:
    """Whether ``user`` is an active staff member holding one of ``roles`` in the
    programme. Every question below is asked through this one check."""
    if not (user.is_active and user.is_staff_member):
        return False
    return StaffRole.objects.filter(user=user, programme_id=programme_id, role__in=roles).exists()


def works_in_programme(user: User, programme_id: int) -> bool:
    """Any role in the programme. Enough to read its escalation policy and on-call
    overview; anyone else is told the programme does not exist."""
    return _has_role(user, programme_id, *StaffRole.Role.values)


def may_manage_programme_settings(user: User, programme_id: int) -> bool:
    """Supervisors and admins change the programme's escalation policy, on-call rotations
    and overrides, and crisis phrases."""
    return _has_role(user, programme_id, *_MANAGERS)


def may_read_phrases(user: User, programme_id: int) -> bool:
    """The programme's crisis phrases and their history: its contact persons, who see the
    alerts they raise, and those who manage them."""
    return _has_role(user, programme_id, _CONTACT_PERSON, *_MANAGERS)


def may_open_cases(user: User, programme_id: int) -> bool:
    """Contact persons, supervisors and admins open cases in the programme."""
    return _has_role(user, programme_id, _CONTACT_PERSON, *_MANAGERS)


def may_be_primary_contact(user: User, programme_id: int) -> bool:
    """A case's primary contact is a contact person of the programme."""
    return _has_role(user, programme_id, _CONTACT_PERSON)


def may_be_backup_contact(user: User, programme_id: int) -> bool:
    """A backup is a contact person or on-call staff of the programme."""
    return _has_role(user, programme_id, _CONTACT_PERSON, _ON_CALL)


def may_assign_backup(actor: User, case: Case) -> bool:
    """The case's primary contact, or a supervisor or admin of its programme."""
    is_primary = CaseAssignment.objects.filter(case=case, staff=actor, role=CaseAssignment.Role.PRIMARY).exists()
    return (is_primary and actor.is_active) or _has_role(actor, case.programme_id, *_MANAGERS)


def may_break_glass(user: User, programme_id: int) -> bool:
    """Supervisors and admins may open a case of the programme with a written reason."""
    return _has_role(user, programme_id, *_MANAGERS)


def supervisor_ids(programme_id: int) -> list[int]:
    """The programme's active supervisors (admins are not among them): whom an
    escalation's ``notify_supervisors`` step reaches."""
    rows = StaffRole.objects.filter(programme_id=programme_id, role=_SUPERVISOR, user__is_active=True)
    return sorted(set(rows.values_list("user_id", flat=True)))


def programme_staff_ids(programme_id: int, user_ids: Iterable[int]) -> set[int]:
    """Those of ``user_ids`` who hold any role in the programme (who may be put on its
    on-call rota)."""
    rows = StaffRole.objects.filter(programme_id=programme_id, user_id__in=list(user_ids))
    return set(rows.values_list("user_id", flat=True))


# --- administering a programme ----------------------------------------------------------


def may_manage_staff(user: User, programme_id: int) -> bool:
    """A programme's admins invite staff, change their roles, deactivate them and reset
    their second factor."""
    return _has_role(user, programme_id, StaffRole.Role.ADMIN)


def may_administer_cases(user: User, programme_id: int) -> bool:
    """A programme's supervisors change a case's contact persons, close, shred and
    transfer its cases, accept cases transferred to it, and set contact persons' working
    hours and the programme's alert limits. Deciding who works a case gives no access to
    it: reading one still takes an assignment or break-glass."""
    return _has_role(user, programme_id, _SUPERVISOR)


def administered_programme_ids(user: User) -> list[int]:
    """The programmes whose cases ``user`` administers (``may_administer_cases``)."""
    if not (user.is_active and user.is_staff_member):
        return []
    rows = StaffRole.objects.filter(user=user, role=_SUPERVISOR).values_list("programme_id", flat=True)
    return sorted(set(rows))


def may_read_programme_audit(user: User, programme_id: int) -> bool:
    """Supervisors and admins read the programme's audit trail."""
    return _has_role(user, programme_id, *_MANAGERS)


def programme_case(user: User, case_id: int) -> Case:
    """A case by id for staff of its programme, whether or not they may read it (for
    administering it); "not found" for anyone else, so ids leak nothing."""
    case = Case.objects.select_related("programme", "defector").filter(pk=case_id).first()
    if case is None or not works_in_programme(user, case.programme_id):
        raise _not_found()
    return case
