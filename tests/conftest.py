"""Shared fixtures: a programme with staff in every role, a case, enrolled devices.

Tests run against PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set (CI does),
and against SQLite and the in-memory channel layer otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from backend.accounts.models import Programme, StaffRole, User
from backend.administration.services import open_case
from backend.cases.models import Case
from client.device import DeviceKeys, DeviceSession

STAFF_PASSWORD = "correct horse battery staple"

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
requires_postgres = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture(autouse=True, scope="session")
def _short_lived_thread_connections():
    # Consumers reach the database from worker threads; with persistent connections those
    # threads would keep the test database open past its teardown.
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings, request):
    # Slow hashes cost ~0.3 s each; tests that check the real hasher opt out by name.
    if "real_password_hasher" not in request.keywords:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters live in the cache; every test starts with a clean budget.
    cache.clear()
    yield


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


@pytest.fixture
def programme(db) -> Programme:
    return Programme.objects.create(name="Test programme")


@pytest.fixture
def make_staff(db):
    def make(username: str, programme: Programme, *roles: str) -> Staff:
        user = User.objects.create_user(username=username, password=STAFF_PASSWORD, kind=User.Kind.STAFF)
        for role in roles:
            StaffRole.objects.create(user=user, programme=programme, role=role)
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        return Staff(user, device)

    return make


@pytest.fixture
def contact(make_staff, programme) -> Staff:
    return make_staff("contact", programme, StaffRole.Role.CONTACT_PERSON)


@pytest.fixture
def other_contact(make_staff, programme) -> Staff:
    """A contact person in the same programme who is not on the case."""
    return make_staff("other-contact", programme, StaffRole.Role.CONTACT_PERSON)


@pytest.fixture
def oncall(make_staff, programme) -> Staff:
    return make_staff("oncall", programme, StaffRole.Role.ON_CALL)


@pytest.fixture
def supervisor(make_staff, programme) -> Staff:
    return make_staff("supervisor", programme, StaffRole.Role.SUPERVISOR)


@pytest.fixture
def foreign_supervisor(make_staff, db) -> Staff:
    elsewhere = Programme.objects.create(name="Another programme")
    return make_staff("foreign-supervisor", elsewhere, StaffRole.Role.SUPERVISOR)


@pytest.fixture
def case(programme, contact) -> Case:
    return open_case(programme=programme, alias="Falken", primary_contact=contact.user, actor=contact.user)


@pytest.fixture
def other_case(programme, other_contact) -> Case:
    return open_case(programme=programme, alias="Ugglan", primary_contact=other_contact.user, actor=other_contact.user)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def staff_client(staff: Staff) -> APIClient:
    """A browser-like client logged in to the inbox with password and TOTP."""
    client = APIClient(enforce_csrf_checks=False)
    response = client.post(
        "/inbox/login/", {"username": staff.user.username, "password": STAFF_PASSWORD, "otp": staff.otp()}
    )
    assert response.status_code == 302, response.content
    return client


@pytest.fixture
def as_staff():
    return staff_client


def new_enrollment_code(case: Case, by: Staff) -> str:
    from backend.cases.enrollment import create_enrollment_code

    code, _ = create_enrollment_code(case=case, created_by=by.user)
    return code


def enroll(api: APIClient, code: str, *, keys: DeviceKeys | None = None, push_token: str = "") -> DeviceSession:
    keys = keys or DeviceKeys()
    response = api.post("/api/v1/enroll", {"code": code, "device": keys.public(push_token=push_token)}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    return DeviceSession(
        device_id=body["device_id"],
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        role=body["role"],
        case_id=body["case_id"],
        keys=keys,
    )


def device_client(session: DeviceSession) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.access_token}")
    return client


@pytest.fixture
def defector_device(case, contact) -> DeviceSession:
    return enroll(APIClient(), new_enrollment_code(case, contact))
