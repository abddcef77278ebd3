"""Test data, built one way (factory_boy): programmes, staff with a role and a second
factor, cases, and devices.

A device is a ``Device`` row with real key pairs (``DeviceFactory``); what the app holds
after enrolling one, its private keys and a token pair, is a ``DeviceSession``
(``StaffDeviceSessionFactory``, ``DefectorDeviceSessionFactory``). Tokens come from the
service enrollment uses, so a session opens the API like an enrolled app's. A test about
enrollment itself goes through ``/api/v1/enroll`` instead (``tests/accounts``).

Cases are opened through ``open_case``, the way staff open one: the defector, the primary
contact's assignment, the data key, the conversation and the audit entry exist together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import factory
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import Device, Programme, StaffRole, User
from backend.accounts.services import issue_token_pair
from backend.administration.services import open_case
from backend.cases.models import Case
from client.device import DeviceKeys, DeviceSession

STAFF_PASSWORD = "correct horse battery staple"


@dataclass
class Staff:
    user: User
    totp_device: TOTPDevice

    def otp(self) -> str:
        # django-otp refuses a code twice; a test may log the same person in twice.
        self.totp_device.refresh_from_db()
        self.totp_device.last_t = -1
        self.totp_device.throttling_failure_count = 0
        self.totp_device.throttling_failure_timestamp = None
        self.totp_device.save()
        d = self.totp_device
        return f"{totp(d.bin_key, step=d.step, t0=d.t0, digits=d.digits):0{d.digits}d}"


class ProgrammeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Programme

    name = factory.Sequence(lambda n: f"Programme {n}")


class StaffUserFactory(factory.django.DjangoModelFactory):
    """A staff login with one role in a programme (a contact person unless told; none
    with ``role=None``)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:
        programme = factory.SubFactory(ProgrammeFactory)
        role = StaffRole.Role.CONTACT_PERSON

    username = factory.Sequence(lambda n: f"staff-{n}")
    kind = User.Kind.STAFF
    password = factory.django.Password(STAFF_PASSWORD)
    staff_role = factory.Maybe(
        "role",
        yes_declaration=factory.RelatedFactory(
            "tests.factories.StaffRoleFactory",
            factory_related_name="user",
            programme=factory.SelfAttribute("..programme"),
            role=factory.SelfAttribute("..role"),
        ),
    )


class StaffRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffRole

    user = factory.SubFactory(StaffUserFactory, role=None)
    programme = factory.SubFactory(ProgrammeFactory)
    role = StaffRole.Role.CONTACT_PERSON


class TOTPDeviceFactory(factory.django.DjangoModelFactory):
    """The staff member's confirmed authenticator (the second factor)."""

    class Meta:
        model = TOTPDevice

    user = factory.SubFactory(StaffUserFactory)
    name = "phone"
    confirmed = True


class StaffFactory(factory.Factory):
    """A staff member who can log in: password, a role in a programme (none with
    ``role=None``), and a TOTP device."""

    class Meta:
        model = Staff

    class Params:
        programme = factory.SubFactory(ProgrammeFactory)
        role = StaffRole.Role.CONTACT_PERSON

    user = factory.SubFactory(
        StaffUserFactory, programme=factory.SelfAttribute("..programme"), role=factory.SelfAttribute("..role")
    )
    totp_device = factory.SubFactory(TOTPDeviceFactory, user=factory.SelfAttribute("..user"))


class CaseFactory(factory.django.DjangoModelFactory):
    """An open case with its defector, opened by its primary contact through ``open_case``.
    Create only: a case without its key and conversation is not a case."""

    class Meta:
        model = Case

    programme = factory.SubFactory(ProgrammeFactory)
    alias = factory.Sequence(lambda n: f"Alias {n}")
    primary_contact = factory.SubFactory(StaffUserFactory, programme=factory.SelfAttribute("..programme"))

    @classmethod
    def _create(cls, model_class: type[Case], *args: Any, **kwargs: Any) -> Case:
        contact = kwargs["primary_contact"]
        return open_case(programme=kwargs["programme"], alias=kwargs["alias"], primary_contact=contact, actor=contact)


class DeviceFactory(factory.django.DjangoModelFactory):
    """An enrolled phone: real public keys (the private halves are thrown away; use a
    session factory when the test signs with them) and a push token."""

    class Meta:
        model = Device

    class Params:
        keys = factory.LazyFunction(DeviceKeys)

    user = factory.SubFactory(StaffUserFactory)
    name = "phone"
    platform = Device.Platform.ANDROID
    signing_key = factory.LazyAttribute(lambda device: device.keys.public()["signing_key"])
    box_key = factory.LazyAttribute(lambda device: device.keys.public()["box_key"])
    push_token = factory.Sequence(lambda n: f"push-token-{n}")


class StaffDeviceSessionFactory(factory.Factory):
    """A staff member's enrolled phone as the app holds it: device id, private keys and a
    fresh token pair."""

    class Meta:
        model = DeviceSession

    class Params:
        user = factory.SubFactory(StaffUserFactory)
        push_token = factory.Sequence(lambda n: f"push-token-{n}")
        device = factory.SubFactory(
            DeviceFactory,
            user=factory.SelfAttribute("..user"),
            keys=factory.SelfAttribute("..keys"),
            push_token=factory.SelfAttribute("..push_token"),
        )
        tokens = factory.LazyAttribute(lambda session: issue_token_pair(session.device, now=timezone.now()))

    keys = factory.LazyFunction(DeviceKeys)
    device_id = factory.LazyAttribute(lambda session: str(session.device.pk))
    access_token = factory.LazyAttribute(lambda session: session.tokens.access_token)
    refresh_token = factory.LazyAttribute(lambda session: session.tokens.refresh_token)
    role = User.Kind.STAFF.value
    case_id = None


class DefectorDeviceSessionFactory(StaffDeviceSessionFactory):
    """The defector's enrolled app for ``case``: device id, private keys and a fresh token pair."""

    class Params:
        case = factory.SubFactory(CaseFactory)
        user = factory.SelfAttribute("case.defector.user")

    role = User.Kind.DEFECTOR.value
    case_id = factory.SelfAttribute("case.pk")
