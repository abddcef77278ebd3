"""The programme pages' people: besides the shared programme staff, a second supervisor
(shredding takes two), an admin, and a receiving programme with its own supervisor and
contact person (transfers)."""

from __future__ import annotations

import re

import pytest

from backend.accounts.models import StaffRole
from tests.factories import ProgrammeFactory


@pytest.fixture
def second_supervisor(make_staff, programme):
    return make_staff("supervisor-2", programme, StaffRole.Role.SUPERVISOR)


@pytest.fixture
def admin(make_staff, programme):
    return make_staff("admin", programme, StaffRole.Role.ADMIN)


@pytest.fixture
def receiving(db):
    return ProgrammeFactory(name="Receiving programme")


@pytest.fixture
def receiving_supervisor(make_staff, receiving):
    return make_staff("receiving-supervisor", receiving, StaffRole.Role.SUPERVISOR)


@pytest.fixture
def receiving_contact(make_staff, receiving):
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


def error_next_to(html: str, field_id: str) -> str:
    """The error shown for the field with ``field_id`` (the form marks the input with
    aria-invalid and names the error in its aria-describedby)."""
    match = re.search(rf'<p class="error" id="{field_id}_error">([^<]+)</p>', html)
    assert match, f"no error shown for {field_id}"
    assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field_id}"', html)
    return match.group(1)
