"""What the programme pages' tests share: besides the shared programme staff, an admin, a
second supervisor (shredding takes two), a receiving programme with its own supervisor
and contact person (transfers), and ways to compare a refusal with "not found" byte for
byte and to find a field's error."""

from __future__ import annotations

import re

import pytest

from backend.accounts.models import StaffRole
from tests.factories import ProgrammeFactory, Staff

MISSING_PROGRAMME = 999999


@pytest.fixture
def admin(make_staff, programme) -> Staff:
    return make_staff("admin", programme, StaffRole.Role.ADMIN)


@pytest.fixture
def second_supervisor(make_staff, programme) -> Staff:
    return make_staff("supervisor-2", programme, StaffRole.Role.SUPERVISOR)


@pytest.fixture
def foreign_admin(make_staff, foreign_supervisor) -> Staff:
    """An admin of the other programme (where ``foreign_supervisor`` works)."""
    return make_staff("foreign-admin", foreign_supervisor.user.staff_roles.get().programme, StaffRole.Role.ADMIN)


@pytest.fixture
def staff_in_role(make_staff, programme, admin, supervisor, contact, oncall):
    """The programme's staff by role name."""
    return {"admin": admin, "supervisor": supervisor, "contact_person": contact, "on_call": oncall}


@pytest.fixture
def receiving(db):
    return ProgrammeFactory(name="Receiving programme")


@pytest.fixture
def receiving_supervisor(make_staff, receiving) -> Staff:
    return make_staff("receiving-supervisor", receiving, StaffRole.Role.SUPERVISOR)


@pytest.fixture
def receiving_contact(make_staff, receiving) -> Staff:
    staff = make_staff("receiving-contact", receiving, StaffRole.Role.CONTACT_PERSON)
    staff.user.first_name, staff.user.last_name = "Charlie", "Mottagare"
    staff.user.save()
    return staff


def comparable(page: bytes, *paths: str) -> str:
    """A page without what differs on every render (the masked CSRF token) or names the
    path asked for."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page.decode())
    for path in paths:
        text = text.replace(path, "PATH")
    return text


def refusals_look_alike(client, url: str, programme_id: int) -> None:
    """Another programme's page looks exactly like a programme that does not exist."""
    theirs = client.get(url)
    missing = client.get(url.replace(f"/programmes/{programme_id}/", f"/programmes/{MISSING_PROGRAMME}/"))
    assert theirs.status_code == missing.status_code == 404
    assert comparable(theirs.content, f"/inbox/programmes/{programme_id}/") == comparable(
        missing.content, f"/inbox/programmes/{MISSING_PROGRAMME}/"
    )


def error_next_to(html: str, field_id: str) -> str:
    """The error shown for the field with ``field_id`` (the form marks the input with
    aria-invalid and names the error in its aria-describedby)."""
    match = re.search(rf'<p class="error" id="{field_id}_error">([^<]+)</p>', html)
    assert match, f"no error shown for {field_id}"
    assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field_id}"', html)
    return match.group(1)
