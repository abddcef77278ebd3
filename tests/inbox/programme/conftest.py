"""What the programme pages' tests share: an admin of the test programme, and a way to
compare a refusal with "not found" byte for byte."""

from __future__ import annotations

import re

import pytest

from backend.accounts.models import StaffRole
from tests.factories import Staff

MISSING_PROGRAMME = 999999


@pytest.fixture
def admin(make_staff, programme) -> Staff:
    return make_staff("admin", programme, StaffRole.Role.ADMIN)


@pytest.fixture
def foreign_admin(make_staff, foreign_supervisor) -> Staff:
    """An admin of the other programme (where ``foreign_supervisor`` works)."""
    return make_staff("foreign-admin", foreign_supervisor.user.staff_roles.get().programme, StaffRole.Role.ADMIN)


@pytest.fixture
def staff_in_role(make_staff, programme, admin, supervisor, contact, oncall):
    """The programme's staff by role name."""
    return {"admin": admin, "supervisor": supervisor, "contact_person": contact, "on_call": oncall}


def comparable(page: bytes, programme_id: int) -> str:
    """A page without what differs on every render (the masked CSRF token) or names the
    programme asked for."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page.decode())
    return text.replace(f"/inbox/programmes/{programme_id}/", "/inbox/programmes/ID/")


def refusals_look_alike(client, url: str, programme_id: int) -> None:
    """Another programme's page looks exactly like a programme that does not exist."""
    theirs = client.get(url)
    missing = client.get(url.replace(f"/programmes/{programme_id}/", f"/programmes/{MISSING_PROGRAMME}/"))
    assert theirs.status_code == missing.status_code == 404
    assert comparable(theirs.content, programme_id) == comparable(missing.content, MISSING_PROGRAMME)
