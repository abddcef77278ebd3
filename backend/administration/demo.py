"""The demo programmes that ``seed_demo`` creates, so a newcomer can log in at once: the
demo programme (contact person, on-call worker on a rotation that covers every hour,
supervisor, admin, one case) and a second programme (a supervisor and a contact person)
to try a transfer with."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import Programme, StaffRole, User
from backend.administration.services import open_case
from backend.cases.enrollment import create_enrollment_code
from backend.cases.models import Case
from backend.crisis.models import OnCallRotation

DEMO_PROGRAMME = "Demo exit programme"
DEMO_ALIAS = "Falken"
DEMO_STAFF = {
    "contact_person": ("demo-contact", "Kim", "Contact", [StaffRole.Role.CONTACT_PERSON]),
    "on_call": ("demo-oncall", "Alex", "On-call", [StaffRole.Role.ON_CALL]),
    "supervisor": ("demo-supervisor", "Sam", "Supervisor", [StaffRole.Role.SUPERVISOR]),
    "admin": ("demo-admin", "Ada", "Admin", [StaffRole.Role.ADMIN]),
}
DEMO_ROTATION = "Demo on-call"
OTHER_PROGRAMME = "Demo receiving programme"
OTHER_STAFF = {
    "supervisor": ("demo-other-supervisor", "Robin", "Supervisor", [StaffRole.Role.SUPERVISOR]),
    "contact_person": ("demo-other-contact", "Charlie", "Contact", [StaffRole.Role.CONTACT_PERSON]),
}


def demo_password(username: str) -> str:
    """Stable across runs (derived from this installation's secret key), so seeding again
    reuses the staff and still prints a password that works."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"demo-password:{username}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:20].lower()


def _totp_secret(device: TOTPDevice) -> str:
    return base64.b32encode(bytes.fromhex(device.key)).decode()


class DemoProgrammeJson(TypedDict):
    id: int
    name: str


class DemoStaffJson(TypedDict):
    username: str
    password: str
    totp_secret: str
    user_id: int


class DemoCaseJson(TypedDict):
    id: int
    alias: str
    enrollment_code: str


class OtherProgrammeJson(TypedDict):
    id: int
    name: str
    supervisor: DemoStaffJson
    contact_person: DemoStaffJson


class DemoSeedJson(TypedDict):
    """What ``seed_demo --json`` prints."""

    programme: DemoProgrammeJson
    staff: dict[str, DemoStaffJson]  # by role: contact_person, on_call, supervisor, admin
    case: DemoCaseJson
    other_programme: OtherProgrammeJson


def _staff_json(member: tuple[User, str, str]) -> DemoStaffJson:
    user, password, secret = member
    return DemoStaffJson(username=user.username, password=password, totp_secret=secret, user_id=user.pk)


@dataclass
class DemoSeed:
    programme: Programme
    staff: dict[str, tuple[User, str, str]]
    case: Case
    enrollment_code: str
    other_programme: Programme
    other_staff: dict[str, tuple[User, str, str]]

    def as_json(self) -> DemoSeedJson:
        return DemoSeedJson(
            programme=DemoProgrammeJson(id=self.programme.pk, name=self.programme.name),
            staff={role: _staff_json(member) for role, member in self.staff.items()},
            case=DemoCaseJson(id=self.case.pk, alias=self.case.defector.alias, enrollment_code=self.enrollment_code),
            other_programme=OtherProgrammeJson(
                id=self.other_programme.pk,
                name=self.other_programme.name,
                supervisor=_staff_json(self.other_staff["supervisor"]),
                contact_person=_staff_json(self.other_staff["contact_person"]),
            ),
        )


def _staff_member(
    programme: Programme, username: str, first: str, last: str, roles: Sequence[StaffRole.Role]
) -> tuple[User, str, str]:
    password = demo_password(username)
    user, created = User.objects.get_or_create(
        username=username, defaults={"kind": User.Kind.STAFF, "first_name": first, "last_name": last}
    )
    if created or not user.check_password(password):
        user.set_password(password)
        user.save()
    for role in roles:
        StaffRole.objects.get_or_create(user=user, programme=programme, role=role)
    totp = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if totp is None:
        totp = TOTPDevice.objects.create(user=user, name="demo authenticator", confirmed=True)
    return user, password, _totp_secret(totp)


def _on_call_around_the_clock(programme: Programme, worker: User) -> None:
    """A rotation with the demo on-call worker alone on it, started yesterday, so whoever
    runs the demo at any hour has someone on call for an alert to reach."""
    rotation = OnCallRotation.objects.filter(programme=programme, name=DEMO_ROTATION).first()
    if rotation is None or rotation.members != [worker.pk] or rotation.start_date > timezone.localdate():
        OnCallRotation.objects.filter(programme=programme, name=DEMO_ROTATION).delete()
        OnCallRotation.objects.create(
            programme=programme,
            name=DEMO_ROTATION,
            members=[worker.pk],
            start_date=timezone.localdate() - dt.timedelta(days=1),
            shift_days=7,
        )


def seed_demo() -> DemoSeed:
    """Create or reuse the demo programmes, staff, rotation and case; always a fresh
    enrollment code."""
    with transaction.atomic():
        programme, _ = Programme.objects.get_or_create(name=DEMO_PROGRAMME)
        staff = {
            key: _staff_member(programme, username, first, last, roles)
            for key, (username, first, last, roles) in DEMO_STAFF.items()
        }
        _on_call_around_the_clock(programme, staff["on_call"][0])
        other, _ = Programme.objects.get_or_create(name=OTHER_PROGRAMME)
        other_staff = {
            key: _staff_member(other, username, first, last, roles)
            for key, (username, first, last, roles) in OTHER_STAFF.items()
        }
        contact = staff["contact_person"][0]
        open_cases = Case.objects.filter(programme=programme, defector__alias=DEMO_ALIAS, status=Case.Status.OPEN)
        case = open_cases.select_related("defector").order_by("-pk").first()
        if case is None:
            # First run, or the demo case was closed or moved away while trying things.
            case = open_case(programme=programme, alias=DEMO_ALIAS, primary_contact=contact, actor=contact)
        code, _ = create_enrollment_code(case=case, created_by=contact)
    return DemoSeed(
        programme=programme,
        staff=staff,
        case=case,
        enrollment_code=code,
        other_programme=other,
        other_staff=other_staff,
    )
