"""On-call rotations and overrides over the API: listed by everyone who works in the
programme, changed and deleted by supervisors and admins, each change audited; other
programmes' rotations do not exist."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.accounts.models import StaffRole
from backend.audit.models import AuditEntry
from backend.crisis.models import OnCallOverride, OnCallRotation
from tests.conftest import device_client, staff_client


@pytest.fixture
def rotation(programme, oncall) -> OnCallRotation:
    return OnCallRotation.objects.create(
        programme=programme, name="jour", members=[oncall.user.pk], start_date=dt.date(2026, 1, 5), shift_days=7
    )


@pytest.fixture
def override(rotation, oncall) -> OnCallOverride:
    now = timezone.now()
    return OnCallOverride.objects.create(
        rotation=rotation, user=oncall.user, starts_at=now + dt.timedelta(days=1), ends_at=now + dt.timedelta(days=2)
    )


def rotation_body(members: list[int], **changes) -> dict:
    return {
        "name": "natt",
        "members": members,
        "start_date": "2026-02-02",
        "handoff_time": "09:00",
        "shift_days": 3,
        "timezone": "Europe/Stockholm",
    } | changes


def answers(client, programme_id: int, rotation_id: int, override_id: int) -> tuple[int, ...]:
    base = f"/api/v1/programmes/{programme_id}/oncall"
    return (
        client.get(f"{base}/rotations").status_code,
        client.get(f"{base}/overrides").status_code,
        client.put(f"{base}/rotations/{rotation_id}", {}, format="json").status_code,
        client.put(f"{base}/overrides/{override_id}", {}, format="json").status_code,
        client.delete(f"{base}/overrides/{override_id}").status_code,
        client.delete(f"{base}/rotations/{rotation_id}").status_code,
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (StaffRole.Role.CONTACT_PERSON, (200, 200, 403, 403, 403, 403)),
        (StaffRole.Role.ON_CALL, (200, 200, 403, 403, 403, 403)),
        (StaffRole.Role.SUPERVISOR, (200, 200, 400, 400, 204, 204)),
        (StaffRole.Role.ADMIN, (200, 200, 400, 400, 204, 204)),
    ],
)
def test_each_role_of_the_programme(make_staff, programme, rotation, override, role, expected):
    client = staff_client(make_staff(f"as-{role}", programme, role))
    assert answers(client, programme.pk, rotation.pk, override.pk) == expected


def test_other_programmes_defectors_and_anonymous_callers(
    foreign_supervisor, supervisor, programme, rotation, override, defector_device, api
):
    assert answers(staff_client(foreign_supervisor), programme.pk, rotation.pk, override.pk) == (404,) * 6
    foreign_programme = StaffRole.objects.get(user=foreign_supervisor.user).programme_id
    # A rotation id from another programme does not exist in this one.
    assert answers(staff_client(foreign_supervisor), foreign_programme, rotation.pk, override.pk)[2:] == (404,) * 4
    assert answers(device_client(defector_device), programme.pk, rotation.pk, override.pk) == (403,) * 6
    assert answers(api, programme.pk, rotation.pk, override.pk) == (401,) * 6
    assert OnCallRotation.objects.filter(pk=rotation.pk).exists()


def test_list_change_and_delete_a_rotation(supervisor, programme, rotation, override, oncall, contact):
    client = staff_client(supervisor)
    base = f"/api/v1/programmes/{programme.pk}/oncall"
    listed = client.get(f"{base}/rotations").json()
    assert listed == [
        {
            "id": rotation.pk,
            "name": "jour",
            "members": [oncall.user.pk],
            "start_date": "2026-01-05",
            "handoff_time": "08:00:00",
            "shift_days": 7,
            "timezone": "Europe/Stockholm",
        }
    ]
    changed = client.put(
        f"{base}/rotations/{rotation.pk}", rotation_body([contact.user.pk, oncall.user.pk]), format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["members"] == [contact.user.pk, oncall.user.pk] and changed.json()["shift_days"] == 3
    outsider = client.put(f"{base}/rotations/{rotation.pk}", rotation_body([999999]), format="json")
    assert outsider.status_code == 400 and outsider.json()["errors"][0]["field"] == "members"
    assert client.delete(f"{base}/rotations/{rotation.pk}").status_code == 204
    assert client.get(f"{base}/rotations").json() == []
    assert not OnCallOverride.objects.filter(pk=override.pk).exists()
    assert client.delete(f"{base}/rotations/{rotation.pk}").status_code == 404
    actions = set(AuditEntry.objects.filter(actor_id=supervisor.user.pk).values_list("action", flat=True))
    assert {"oncall.rotation_changed", "oncall.rotation_deleted"} <= actions


def test_list_change_and_delete_an_override(supervisor, programme, rotation, override, contact):
    client = staff_client(supervisor)
    base = f"/api/v1/programmes/{programme.pk}/oncall"
    assert [row["id"] for row in client.get(f"{base}/overrides").json()] == [override.pk]
    body = {
        "rotation": rotation.pk,
        "user": contact.user.pk,
        "starts_at": "2027-01-01T08:00:00Z",
        "ends_at": "2027-01-01T20:00:00Z",
    }
    changed = client.put(f"{base}/overrides/{override.pk}", body, format="json")
    assert changed.status_code == 200
    assert changed.json()["user"] == contact.user.pk and changed.json()["starts_at"] == "2027-01-01T08:00:00Z"
    backwards = client.put(f"{base}/overrides/{override.pk}", body | {"ends_at": "2026-12-31T08:00:00Z"}, format="json")
    assert backwards.json()["errors"][0]["field"] == "ends_at"
    assert client.delete(f"{base}/overrides/{override.pk}").status_code == 204
    assert client.get(f"{base}/overrides").json() == []
    assert AuditEntry.objects.filter(action="oncall.override_deleted", actor_id=supervisor.user.pk).exists()
