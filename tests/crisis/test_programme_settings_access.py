"""Who may read and change a programme's escalation policy and on-call rota, from every
role's side: everyone who works in the programme reads, supervisors and admins change,
and to anyone else the programme does not exist."""

from __future__ import annotations

import pytest

from backend.accounts.models import StaffRole
from tests.conftest import device_client

POLICY = {"steps": [{"action": "notify_contacts"}, {"action": "wait", "minutes": 3}], "repeat": 2}
OVERRIDE = {"rotation": 1, "user": 1, "starts_at": "2026-11-24T08:00:00Z", "ends_at": "2026-11-24T10:00:00Z"}


def answers(client, programme_id: int) -> tuple[int, int, int, int]:
    base = f"/api/v1/programmes/{programme_id}"
    return (
        client.get(f"{base}/escalation-policy").status_code,
        client.get(f"{base}/oncall").status_code,
        client.put(f"{base}/escalation-policy", POLICY, format="json").status_code,
        # An empty body: refused for who is asking before it is read.
        client.post(f"{base}/oncall/overrides", {}, format="json").status_code,
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (StaffRole.Role.CONTACT_PERSON, (200, 200, 403, 403)),
        (StaffRole.Role.ON_CALL, (200, 200, 403, 403)),
        (StaffRole.Role.SUPERVISOR, (200, 200, 200, 400)),
        (StaffRole.Role.ADMIN, (200, 200, 200, 400)),
    ],
)
def test_staff_of_the_programme_by_role(make_staff, programme, as_staff, role, expected):
    staff = make_staff(f"as-{role}", programme, role)
    assert answers(as_staff(staff), programme.pk) == expected


def test_staff_of_another_programme_and_unknown_programmes_get_not_found(
    foreign_supervisor, supervisor, programme, as_staff
):
    assert answers(as_staff(foreign_supervisor), programme.pk) == (404, 404, 404, 404)
    assert answers(as_staff(supervisor), 999999) == (404, 404, 404, 404)


def test_defectors_and_anonymous_callers_are_refused(defector_device, programme, api):
    assert answers(device_client(defector_device), programme.pk) == (403, 403, 403, 403)
    assert answers(api, programme.pk) == (401, 401, 401, 401)
