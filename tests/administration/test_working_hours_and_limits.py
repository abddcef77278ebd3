"""Working hours, absences and the programme's alert limits, set by supervisors: an
absent contact person's unanswered message alerts at once, and a new limit applies to
the next message."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine

from backend.accounts.models import StaffRole
from backend.audit.models import AuditEntry
from backend.messaging.models import Conversation, UnansweredCheck
from tests.conftest import device_client, staff_client
from tests.factories import ProgrammeFactory

# A Wednesday, 10:00 in Stockholm: inside the default working hours.
WEDNESDAY_MORNING = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
HOURS = {"weekdays": [1, 2, 3, 4, 5], "start": "08:00", "end": "17:00", "timezone": "Europe/Stockholm"}


def answers(client, programme_id: int, user_id: int) -> tuple[int, ...]:
    base = f"/api/v1/programmes/{programme_id}"
    return (
        client.get(f"{base}/staff/{user_id}/working-hours").status_code,
        client.put(f"{base}/staff/{user_id}/working-hours", {}, format="json").status_code,
        client.get(f"{base}/alert-limits").status_code,
        client.put(f"{base}/alert-limits", {}, format="json").status_code,
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (StaffRole.Role.CONTACT_PERSON, (403, 403, 200, 403)),
        (StaffRole.Role.ON_CALL, (403, 403, 200, 403)),
        (StaffRole.Role.ADMIN, (403, 403, 200, 403)),
        (StaffRole.Role.SUPERVISOR, (200, 400, 200, 400)),
    ],
)
def test_each_role_of_the_programme(make_staff, programme, contact, role, expected):
    client = staff_client(make_staff(f"as-{role}", programme, role))
    assert answers(client, programme.pk, contact.user.pk) == expected


def test_other_programmes_defectors_and_anonymous_callers(
    make_staff, foreign_supervisor, supervisor, programme, contact, defector_device, api
):
    assert answers(staff_client(foreign_supervisor), programme.pk, contact.user.pk) == (404,) * 4
    stranger = make_staff("stranger", ProgrammeFactory(), StaffRole.Role.CONTACT_PERSON)
    assert answers(staff_client(supervisor), programme.pk, stranger.user.pk)[:2] == (404, 404)
    assert answers(device_client(defector_device), programme.pk, contact.user.pk) == (403,) * 4
    assert answers(api, programme.pk, contact.user.pk) == (401,) * 4


def test_working_hours_default_then_set_and_validated(supervisor, programme, contact):
    client = staff_client(supervisor)
    url = f"/api/v1/programmes/{programme.pk}/staff/{contact.user.pk}/working-hours"
    assert client.get(url).json() == HOURS | {
        "user": contact.user.pk,
        "start": "08:00:00",
        "end": "17:00:00",
        "absences": [],
    }
    body = HOURS | {"weekdays": [1, 2], "absences": [{"from": "2026-12-20", "until": "2027-01-06"}]}
    saved = client.put(url, body, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["absences"] == [{"from": "2026-12-20", "until": "2027-01-06"}]
    assert client.get(url).json()["weekdays"] == [1, 2]
    backwards = client.put(url, body | {"absences": [{"from": "2027-01-06", "until": "2026-12-20"}]}, format="json")
    assert backwards.status_code == 400 and backwards.json()["errors"][0]["field"] == "absences.0.until"
    assert (
        client.put(url, body | {"timezone": "Mars/Olympus"}, format="json").json()["errors"][0]["field"] == "timezone"
    )
    assert client.put(url, body | {"end": "07:00"}, format="json").json()["errors"][0]["field"] == "end"
    entry = AuditEntry.objects.get(action="staff.working_hours_set")
    assert entry.actor_id == supervisor.user.pk and entry.target == f"user:{contact.user.pk}"


def send_as_defector(defector_device, case) -> UnansweredCheck:
    conversation = Conversation.objects.get(case=case)
    response = device_client(defector_device).post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"client_id": str(uuid.uuid4()), "body": "hallå?"},
        format="json",
    )
    assert response.status_code == 201
    return UnansweredCheck.objects.filter(conversation=conversation).latest("pk")


def test_a_message_to_an_absent_contact_person_is_due_at_once(
    supervisor, programme, contact, case, defector_device, settings
):
    settings.LIVLINA_ACCESS_TOKEN_TTL = dt.timedelta(days=400)
    client = staff_client(supervisor)
    url = f"/api/v1/programmes/{programme.pk}/staff/{contact.user.pk}/working-hours"
    with time_machine.travel(WEDNESDAY_MORNING, tick=False):
        present = send_as_defector(defector_device, case)
        assert present.due_at == WEDNESDAY_MORNING + dt.timedelta(minutes=10)
        client = staff_client(supervisor)
        body = HOURS | {"absences": [{"from": "2026-11-25", "until": "2026-11-25"}]}
        assert client.put(url, body, format="json").status_code == 200
        away = send_as_defector(defector_device, case)
        assert away.due_at == WEDNESDAY_MORNING


def test_alert_limits_apply_to_the_next_message(supervisor, programme, case, defector_device, settings):
    settings.LIVLINA_ACCESS_TOKEN_TTL = dt.timedelta(days=400)
    with time_machine.travel(WEDNESDAY_MORNING, tick=False):
        client = staff_client(supervisor)
        url = f"/api/v1/programmes/{programme.pk}/alert-limits"
        assert client.get(url).json() == {"ack_timeout_minutes": 30, "unanswered_limit_minutes": 10}
        limits = {"ack_timeout_minutes": 45, "unanswered_limit_minutes": 3}
        assert client.put(url, limits, format="json").json() == limits
        assert send_as_defector(defector_device, case).due_at == WEDNESDAY_MORNING + dt.timedelta(minutes=3)
        zero = client.put(url, limits | {"unanswered_limit_minutes": 0}, format="json")
        assert zero.json()["errors"][0]["field"] == "unanswered_limit_minutes"
    programme.refresh_from_db()
    assert programme.ack_timeout == dt.timedelta(minutes=45)
    assert AuditEntry.objects.get(action="programme.alert_limits_set").details == limits
