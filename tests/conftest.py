"""Shared fixtures: a programme with staff in every role, a case, enrolled devices (built
by the factories in ``tests/factories.py``).

Tests run against PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set (CI does),
and against SQLite and the in-memory channel layer otherwise.
"""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from backend.accounts.models import Programme, StaffRole
from backend.cases.models import Case
from client.device import DeviceSession
from tests.factories import (
    STAFF_PASSWORD,
    CaseFactory,
    DefectorDeviceSessionFactory,
    ProgrammeFactory,
    Staff,
    StaffFactory,
    StaffRoleFactory,
)

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
requires_postgres = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (set DATABASE_URL)")


def needs(what: str, present: bool, install: str) -> None:
    """Skip a test that needs something this machine lacks; in CI, where it must be
    there, fail instead, so a missing service never turns a suite quietly green."""
    if present:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must provide {what} ({install})")
    pytest.skip(f"needs {what}: {install}")


@pytest.fixture(autouse=True, scope="session")
def _short_lived_thread_connections():
    # Consumers reach the database from worker threads; with persistent connections those
    # threads would keep the test database open past its teardown. With this, each
    # database_sync_to_async call closes its connection when it returns (async tests use
    # it too, and tests/messaging/socket_clients.py keeps Channels' communicator from
    # turning that clean-up off).
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True, scope="session")
def _inbox_assets():
    # The tests render the inbox without `collectstatic` (no hashed-name manifest) and in
    # Swedish from the .po files, compiled as `./livlina run` compiles them.
    from django.core.management import call_command
    from django.test import override_settings

    call_command("compile_translations", verbosity=0)
    plain_static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    from django.conf import settings

    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain_static}):
        yield


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


@pytest.fixture
def programme(db) -> Programme:
    return ProgrammeFactory(name="Test programme")


@pytest.fixture
def make_staff(db):
    def make(username: str, programme: Programme, *roles: str) -> Staff:
        staff = StaffFactory(user__username=username, programme=programme, role=None)
        for role in roles:
            StaffRoleFactory(user=staff.user, programme=programme, role=role)
        return staff

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
    return make_staff("foreign-supervisor", ProgrammeFactory(name="Another programme"), StaffRole.Role.SUPERVISOR)


@pytest.fixture
def case(programme, contact) -> Case:
    return CaseFactory(programme=programme, alias="Falken", primary_contact=contact.user)


@pytest.fixture
def other_case(programme, other_contact) -> Case:
    return CaseFactory(programme=programme, alias="Ugglan", primary_contact=other_contact.user)


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


def device_client(session: DeviceSession) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.access_token}")
    return client


@pytest.fixture
def defector_device(case) -> DeviceSession:
    return DefectorDeviceSessionFactory(case=case)
