"""A programme's cases administered over the API, from every role's side: opening one,
who works it (whoever is removed loses access at once), closing it, and shredding it with
two supervisors."""

from __future__ import annotations

import uuid

import pytest
import time_machine
from django.utils import timezone

from backend.accounts.models import Device, StaffRole
from backend.audit.models import AuditEntry
from backend.cases.models import CaseAssignment
from backend.checkins.models import CheckinSchedule
from backend.crisis.models import Alert
from backend.crisis.services import raise_alert
from backend.messaging.models import Conversation
from tests.conftest import device_client, staff_client


@pytest.fixture
def second_supervisor(make_staff, programme):
    return make_staff("supervisor-2", programme, StaffRole.Role.SUPERVISOR)


@pytest.fixture
def admin(make_staff, programme):
    return make_staff("admin", programme, StaffRole.Role.ADMIN)


def send(client, conversation_id: int, body: str):
    return client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        {"client_id": str(uuid.uuid4()), "body": body},
        format="json",
    )


def case_answers(client, case_id: int, user_id: int) -> tuple[int, ...]:
    # Empty bodies: refused for who is asking before they are read.
    return (
        client.post(f"/api/v1/cases/{case_id}/assignments", {}, format="json").status_code,
        client.delete(f"/api/v1/cases/{case_id}/assignments/{user_id}").status_code,
        client.post(f"/api/v1/cases/{case_id}/close", {}, format="json").status_code,
        client.post(f"/api/v1/cases/{case_id}/shred").status_code,
    )


@pytest.mark.parametrize(
    ("role", "opening", "on_the_case"),
    [
        (StaffRole.Role.CONTACT_PERSON, 400, (403, 403, 403, 403)),
        (StaffRole.Role.ON_CALL, 403, (403, 403, 403, 403)),
        (StaffRole.Role.ADMIN, 400, (403, 403, 403, 403)),
        (StaffRole.Role.SUPERVISOR, 400, (400, 404, 400, 409)),
    ],
)
def test_each_role_of_the_programme(make_staff, programme, case, contact, role, opening, on_the_case):
    client = staff_client(make_staff(f"as-{role}", programme, role))
    assert client.post(f"/api/v1/programmes/{programme.pk}/cases", {}, format="json").status_code == opening
    assert case_answers(client, case.pk, 999999) == on_the_case
    assert case.assignments.get().staff == contact.user


def test_the_primary_contact_may_not_administer_their_own_case(contact, case):
    assert case_answers(staff_client(contact), case.pk, contact.user.pk) == (403, 403, 403, 403)


def test_other_programmes_defectors_and_anonymous_callers(foreign_supervisor, programme, case, defector_device, api):
    foreign = staff_client(foreign_supervisor)
    assert foreign.post(f"/api/v1/programmes/{programme.pk}/cases", {}, format="json").status_code == 404
    assert case_answers(foreign, case.pk, 1) == (404, 404, 404, 404)
    assert case_answers(staff_client(foreign_supervisor), 999999, 1) == (404, 404, 404, 404)
    assert case_answers(device_client(defector_device), case.pk, 1) == (403, 403, 403, 403)
    assert case_answers(api, case.pk, 1) == (401, 401, 401, 401)


def test_a_supervisor_opens_a_case_with_a_primary_and_backups(supervisor, programme, contact, oncall):
    client = staff_client(supervisor)
    body = {"alias": "Korpen", "primary_contact": contact.user.pk, "backups": [oncall.user.pk]}
    response = client.post(f"/api/v1/programmes/{programme.pk}/cases", body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["alias"] == "Korpen" and created["status"] == "open" and created["content_shredded"] is False
    assert set(CaseAssignment.objects.filter(case_id=created["id"]).values_list("staff_id", "role")) == {
        (contact.user.pk, "primary"),
        (oncall.user.pk, "backup"),
    }
    assert staff_client(oncall).get(f"/api/v1/cases/{created['id']}").status_code == 200
    # Opening a case gives the supervisor no access to it.
    assert client.get(f"/api/v1/cases/{created['id']}").status_code == 404
    assert AuditEntry.objects.filter(action="case.opened", case_id=created["id"], actor_id=supervisor.user.pk).exists()


def test_opening_names_the_wrong_field(supervisor, programme, oncall, foreign_supervisor):
    client = staff_client(supervisor)
    url = f"/api/v1/programmes/{programme.pk}/cases"
    not_a_contact = client.post(url, {"alias": "K", "primary_contact": oncall.user.pk}, format="json")
    assert not_a_contact.status_code == 400
    assert not_a_contact.json()["errors"][0]["field"] == "primary_contact"
    body = {"alias": "K", "primary_contact": oncall.user.pk, "backups": [foreign_supervisor.user.pk]}
    assert client.post(url, body, format="json").json()["errors"][0]["field"] in {"primary_contact", "backups"}


def test_a_new_primary_replaces_the_old_one_who_loses_access_at_once(
    supervisor, case, contact, other_contact, defector_device
):
    conversation = Conversation.objects.get(case=case)
    app = device_client(defector_device)
    assert send(app, conversation.pk, "first").status_code == 201
    old = staff_client(contact)
    response = staff_client(supervisor).post(
        f"/api/v1/cases/{case.pk}/assignments", {"user": other_contact.user.pk, "role": "primary"}, format="json"
    )
    assert response.status_code == 201
    assert response.json() == {"case_id": case.pk, "user": other_contact.user.pk, "role": "primary"}
    assert old.get(f"/api/v1/cases/{case.pk}").status_code == 404
    assert old.get(f"/api/v1/conversations/{conversation.pk}/messages").status_code == 404
    # The conversation carries on with the new primary.
    assert send(app, conversation.pk, "second").status_code == 201
    new = staff_client(other_contact)
    bodies = [m["body"] for m in new.get(f"/api/v1/conversations/{conversation.pk}/messages").json()["results"]]
    assert bodies == ["first", "second"]
    assert AuditEntry.objects.filter(action="case.unassigned", target=f"user:{contact.user.pk}").exists()


def test_backups_are_added_and_removed_and_the_primary_stays(supervisor, case, contact, oncall):
    client = staff_client(supervisor)
    url = f"/api/v1/cases/{case.pk}/assignments"
    assert client.post(url, {"user": oncall.user.pk, "role": "backup"}, format="json").status_code == 201
    backup = staff_client(oncall)
    assert backup.get(f"/api/v1/cases/{case.pk}").status_code == 200
    assert client.delete(f"{url}/{oncall.user.pk}").status_code == 204
    assert backup.get(f"/api/v1/cases/{case.pk}").status_code == 404
    assert client.delete(f"{url}/{oncall.user.pk}").status_code == 404
    assert client.delete(f"{url}/{contact.user.pk}").status_code == 409
    assert client.post(url, {"user": contact.user.pk, "role": "backup"}, format="json").status_code == 409
    assert client.post(url, {"user": oncall.user.pk, "role": "primary"}, format="json").json()["errors"][0][
        "field"
    ] == ("user")


def test_closing_revokes_devices_stops_schedules_resolves_alerts_and_keeps_content(
    supervisor, case, contact, defector_device
):
    conversation = Conversation.objects.get(case=case)
    app = device_client(defector_device)
    assert send(app, conversation.pk, "kept").status_code == 201
    schedule = {
        "rrule": "FREQ=DAILY;BYHOUR=21",
        "timezone": "Europe/Stockholm",
        "window_minutes": 60,
        "grace_minutes": 15,
    }
    assert (
        staff_client(contact).post(f"/api/v1/cases/{case.pk}/checkin-schedules", schedule, format="json").status_code
        == 201
    )
    alert = raise_alert(case=case, kind="panic", severity="critical")
    client = staff_client(supervisor)
    assert client.post(f"/api/v1/cases/{case.pk}/close", {"note": " "}, format="json").status_code == 400
    response = client.post(f"/api/v1/cases/{case.pk}/close", {"note": "Moved abroad, all safe"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert app.get("/api/v1/conversations").status_code == 401
    assert Device.objects.get(pk=defector_device.device_id).is_revoked
    assert CheckinSchedule.objects.get(case=case).next_due_at is None
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED and alert.resolution_note == "Moved abroad, all safe"
    page = staff_client(contact).get(f"/api/v1/conversations/{conversation.pk}/messages").json()
    assert [m["body"] for m in page["results"]] == ["kept"]
    assert client.post(f"/api/v1/cases/{case.pk}/close", {"note": "again"}, format="json").status_code == 409
    entry = AuditEntry.objects.get(action="case.closed", case_id=case.pk)
    assert entry.actor_id == supervisor.user.pk and "Moved" not in entry.reason


def test_shredding_needs_a_closed_case_and_two_different_supervisors(
    supervisor, second_supervisor, case, contact, defector_device
):
    conversation = Conversation.objects.get(case=case)
    assert send(device_client(defector_device), conversation.pk, "secret").status_code == 201
    first, second = staff_client(supervisor), staff_client(second_supervisor)
    assert first.post(f"/api/v1/cases/{case.pk}/shred").json()["type"].endswith("case-open")
    first.post(f"/api/v1/cases/{case.pk}/close", {"note": "done"}, format="json")
    asked = first.post(f"/api/v1/cases/{case.pk}/shred")
    assert asked.status_code == 202 and asked.json()["state"] == "awaiting_confirmation"
    assert first.post(f"/api/v1/cases/{case.pk}/shred").status_code == 409
    reader = staff_client(contact)
    assert reader.get(f"/api/v1/cases/{case.pk}").json()["content_shredded"] is False
    confirmed = second.post(f"/api/v1/cases/{case.pk}/shred")
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "shredded"
    assert reader.get(f"/api/v1/cases/{case.pk}").json()["content_shredded"] is True
    page = reader.get(f"/api/v1/conversations/{conversation.pk}/messages").json()
    assert page["content_shredded"] is True
    assert [m["body"] for m in page["results"]] == [""]
    assert second.post(f"/api/v1/cases/{case.pk}/shred").json()["type"].endswith("case-erased")
    actions = list(
        AuditEntry.objects.filter(case_id=case.pk, action__startswith="case.shred").values_list("action", flat=True)
    )
    assert actions == ["case.shred_requested", "case.shred_confirmed", "case.shredded"]


def test_an_unconfirmed_shred_request_lapses_after_24_hours(supervisor, second_supervisor, case):
    first = staff_client(supervisor)
    first.post(f"/api/v1/cases/{case.pk}/close", {"note": "done"}, format="json")
    assert first.post(f"/api/v1/cases/{case.pk}/shred").status_code == 202
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=24, minutes=1)):
        late = staff_client(second_supervisor).post(f"/api/v1/cases/{case.pk}/shred")
        assert late.status_code == 202
        assert late.json()["state"] == "awaiting_confirmation"
    assert staff_client(supervisor).get(f"/api/v1/cases/{case.pk}").status_code == 404


def test_a_supervisor_of_another_programme_cannot_confirm(supervisor, foreign_supervisor, case):
    first = staff_client(supervisor)
    first.post(f"/api/v1/cases/{case.pk}/close", {"note": "done"}, format="json")
    first.post(f"/api/v1/cases/{case.pk}/shred")
    assert staff_client(foreign_supervisor).post(f"/api/v1/cases/{case.pk}/shred").status_code == 404
    assert not AuditEntry.objects.filter(action="case.shredded").exists()
