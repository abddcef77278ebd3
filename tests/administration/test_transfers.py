"""Moving a case to another programme (a relocated defector), with each guarantee of the
transfer tested: nothing changes until acceptance; afterwards the sending programme's
staff get "not found" on the case, its conversation and its alerts at once; the
defector's existing token keeps working and the conversation continues; open alerts
travel and escalate under the receiving programme's policy; the sending programme
learns only that the transfer was accepted; proposals expire after 7 days."""

from __future__ import annotations

import json
import uuid

import pytest
import time_machine
from django.utils import timezone

from backend.accounts.models import StaffRole
from backend.audit.models import AuditEntry
from backend.cases.models import CaseAssignment
from backend.crisis.engine import run_escalations
from backend.crisis.models import Alert, AlertRecipient, EscalationPolicy
from backend.crisis.services import acknowledge_alert, raise_alert
from backend.messaging.models import Conversation
from tests.conftest import device_client, staff_client
from tests.factories import ProgrammeFactory


@pytest.fixture
def receiving(db):
    return ProgrammeFactory(name="Receiving programme")


@pytest.fixture
def receiving_supervisor(make_staff, receiving):
    return make_staff("receiving-supervisor", receiving, StaffRole.Role.SUPERVISOR)


@pytest.fixture
def receiving_contact(make_staff, receiving):
    return make_staff("receiving-contact", receiving, StaffRole.Role.CONTACT_PERSON)


def propose(client, case_id: int, to_programme: int):
    return client.post(f"/api/v1/cases/{case_id}/transfers", {"to_programme": to_programme}, format="json")


def accept(client, transfer_id: int, primary_contact: int):
    return client.post(f"/api/v1/transfers/{transfer_id}/accept", {"primary_contact": primary_contact}, format="json")


def send(client, conversation_id: int, body: str):
    return client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        {"client_id": str(uuid.uuid4()), "body": body},
        format="json",
    )


@pytest.fixture
def proposed(supervisor, case, receiving) -> int:
    response = propose(staff_client(supervisor), case.pk, receiving.pk)
    assert response.status_code == 201, response.content
    assert set(response.json()) == {"id"}
    return response.json()["id"]


# --- who may -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [StaffRole.Role.CONTACT_PERSON, StaffRole.Role.ON_CALL, StaffRole.Role.ADMIN])
def test_only_supervisors_of_the_sending_programme_propose(make_staff, programme, case, receiving, role):
    client = staff_client(make_staff(f"as-{role}", programme, role))
    assert propose(client, case.pk, receiving.pk).status_code == 403


def test_proposals_from_outside_and_to_nowhere(foreign_supervisor, supervisor, case, programme, defector_device, api):
    assert propose(staff_client(foreign_supervisor), case.pk, 1).status_code == 404
    assert propose(device_client(defector_device), case.pk, 1).status_code == 403
    assert propose(api, case.pk, 1).status_code == 401
    own = propose(staff_client(supervisor), case.pk, programme.pk)
    assert own.status_code == 400 and own.json()["errors"][0]["field"] == "to_programme"
    assert propose(staff_client(supervisor), case.pk, 999999).status_code == 400


def test_one_proposal_at_a_time(supervisor, case, receiving, proposed):
    assert propose(staff_client(supervisor), case.pk, receiving.pk).json()["type"].endswith("transfer-pending")


@pytest.mark.parametrize("role", [StaffRole.Role.CONTACT_PERSON, StaffRole.Role.ON_CALL, StaffRole.Role.ADMIN])
def test_only_supervisors_of_the_receiving_programme_decide(make_staff, receiving, receiving_contact, proposed, role):
    client = staff_client(make_staff(f"as-{role}", receiving, role))
    assert accept(client, proposed, receiving_contact.user.pk).status_code == 403
    assert client.post(f"/api/v1/transfers/{proposed}/decline", {}, format="json").status_code == 403


def test_the_sending_side_and_outsiders_cannot_decide(
    supervisor, foreign_supervisor, contact, proposed, defector_device, api
):
    for client in (staff_client(supervisor), staff_client(contact), staff_client(foreign_supervisor)):
        assert accept(client, proposed, contact.user.pk).status_code == 404
        assert client.post(f"/api/v1/transfers/{proposed}/decline", {}, format="json").status_code == 404
    assert accept(device_client(defector_device), proposed, 1).status_code == 403
    assert accept(api, proposed, 1).status_code == 401


# --- the guarantees ---------------------------------------------------------------------------


def test_nothing_changes_until_acceptance(contact, case, proposed, receiving_supervisor):
    assert staff_client(contact).get(f"/api/v1/cases/{case.pk}").status_code == 200
    assert staff_client(receiving_supervisor).get(f"/api/v1/cases/{case.pk}").status_code == 404
    case.refresh_from_db()
    assert case.programme.name == "Test programme"


def test_after_acceptance_the_sending_contact_person_gets_not_found_on_case_conversation_and_alerts(
    contact, supervisor, case, proposed, receiving_supervisor, receiving_contact
):
    alert = raise_alert(case=case, kind="keyword", severity="high")
    conversation = Conversation.objects.get(case=case)
    old = staff_client(contact)
    assert old.get(f"/api/v1/alerts/{alert.pk}").status_code == 200
    response = accept(staff_client(receiving_supervisor), proposed, receiving_contact.user.pk)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "accepted"
    assert old.get(f"/api/v1/cases/{case.pk}").status_code == 404
    assert old.get(f"/api/v1/conversations/{conversation.pk}/messages").status_code == 404
    assert old.get(f"/api/v1/alerts/{alert.pk}").status_code == 404
    assert old.get("/api/v1/alerts").json() == []
    assert old.get("/api/v1/conversations").json() == []
    assert (
        staff_client(supervisor).post(f"/api/v1/cases/{case.pk}/close", {"note": "x"}, format="json").status_code == 404
    )
    assert set(CaseAssignment.objects.filter(case=case).values_list("staff_id", "role")) == {
        (receiving_contact.user.pk, "primary")
    }


def test_the_defectors_existing_token_keeps_working_and_the_conversation_continues(
    case, proposed, defector_device, receiving_supervisor, receiving_contact
):
    conversation = Conversation.objects.get(case=case)
    app = device_client(defector_device)
    assert send(app, conversation.pk, "before the move").status_code == 201
    accept(staff_client(receiving_supervisor), proposed, receiving_contact.user.pk)
    assert send(app, conversation.pk, "after the move").status_code == 201
    assert app.get("/api/v1/me").status_code == 200
    page = staff_client(receiving_contact).get(f"/api/v1/conversations/{conversation.pk}/messages").json()
    assert [m["body"] for m in page["results"]] == ["before the move", "after the move"]


def test_open_alerts_travel_and_escalate_under_the_receiving_programmes_policy(
    contact, case, receiving, proposed, receiving_supervisor, receiving_contact
):
    EscalationPolicy.objects.create(
        programme=receiving, steps=[{"action": "notify_supervisors"}, {"action": "wait", "minutes": 5}], repeat=1
    )
    alert = raise_alert(case=case, kind="keyword", severity="high")
    acknowledge_alert(alert=alert, user=contact.user)
    accept(staff_client(receiving_supervisor), proposed, receiving_contact.user.pk)
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN
    assert alert.escalation["steps"][0] == {"action": "notify_supervisors"}
    run_escalations()
    notified = set(AlertRecipient.objects.filter(alert=alert).values_list("user_id", flat=True))
    assert notified == {receiving_supervisor.user.pk}
    assert staff_client(receiving_contact).get(f"/api/v1/alerts/{alert.pk}").status_code == 200


def test_the_sending_programme_learns_only_that_it_was_accepted(
    supervisor, case, proposed, receiving_supervisor, receiving_contact
):
    accept(staff_client(receiving_supervisor), proposed, receiving_contact.user.pk)
    seen = staff_client(supervisor).get("/api/v1/transfers")
    assert seen.status_code == 200
    [row] = seen.json()
    assert row["id"] == proposed and row["state"] == "accepted"
    text = json.dumps(seen.json())
    assert receiving_contact.user.username not in text
    assert str(receiving_contact.user.pk) not in {str(v) for v in row.values()}
    assert "primary" not in text


def test_both_audit_trails_record_the_move(
    supervisor, programme, case, receiving, proposed, receiving_supervisor, receiving_contact
):
    accept(staff_client(receiving_supervisor), proposed, receiving_contact.user.pk)
    out = AuditEntry.objects.get(action="case.transferred_out")
    into = AuditEntry.objects.get(action="case.transferred_in")
    assert out.details == {"programme": programme.pk} and into.details == {"programme": receiving.pk}
    assert out.case_id == into.case_id == case.pk
    assert AuditEntry.objects.get(action="case.transfer_proposed").actor_id == supervisor.user.pk


def test_a_declined_transfer_changes_nothing(contact, case, proposed, receiving_supervisor, receiving_contact):
    declined = staff_client(receiving_supervisor).post(f"/api/v1/transfers/{proposed}/decline", {}, format="json")
    assert declined.status_code == 200 and declined.json()["state"] == "declined"
    assert staff_client(contact).get(f"/api/v1/cases/{case.pk}").status_code == 200
    assert accept(staff_client(receiving_supervisor), proposed, receiving_contact.user.pk).status_code == 409
    assert AuditEntry.objects.filter(action="case.transfer_declined_out").exists()


def test_a_proposal_expires_after_7_days(
    supervisor, contact, case, receiving, proposed, receiving_supervisor, receiving_contact
):
    with time_machine.travel(timezone.now() + timezone.timedelta(days=7, minutes=1)):
        late = accept(staff_client(receiving_supervisor), proposed, receiving_contact.user.pk)
        assert late.status_code == 409 and late.json()["type"].endswith("transfer-expired")
        assert [row["state"] for row in staff_client(supervisor).get("/api/v1/transfers").json()] == ["expired"]
        assert propose(staff_client(supervisor), case.pk, receiving.pk).status_code == 201
    assert staff_client(contact).get(f"/api/v1/cases/{case.pk}").status_code == 200


def test_the_new_primary_must_work_in_the_receiving_programme(contact, proposed, receiving_supervisor):
    wrong = accept(staff_client(receiving_supervisor), proposed, contact.user.pk)
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "primary_contact"


def test_the_programme_directory_lists_transfer_targets(supervisor, programme, receiving, api):
    names = [row["name"] for row in staff_client(supervisor).get("/api/v1/programmes").json()]
    assert names == sorted([programme.name, receiving.name])
    assert api.get("/api/v1/programmes").status_code == 401


def test_the_sending_programmes_audit_trail_shows_the_move_but_not_who_took_the_case(
    supervisor, programme, case, receiving, proposed, receiving_supervisor, receiving_contact
):
    accept(staff_client(receiving_supervisor), proposed, receiving_contact.user.pk)
    sending = staff_client(supervisor).get(f"/api/v1/programmes/{programme.pk}/audit", {"page_size": 200}).json()
    actions = [row["action"] for row in sending["results"]]
    assert "case.transferred_out" in actions and "case.transferred_in" not in actions
    [moved] = [row for row in sending["results"] if row["action"] == "case.transferred_out"]
    assert moved["actor_id"] is None and moved["actor_label"] == "(outside this programme)"
    text = json.dumps(sending)
    assert receiving_contact.user.username not in text and receiving_supervisor.user.username not in text
    receiving_trail = staff_client(receiving_supervisor).get(f"/api/v1/programmes/{receiving.pk}/audit").json()
    received = [row["action"] for row in receiving_trail["results"]]
    assert "case.transferred_in" in received and "case.assigned" in received


def test_the_transfer_list_shows_nothing_to_other_roles_and_programmes(
    contact, oncall, foreign_supervisor, proposed, receiving_contact, defector_device, api
):
    for staff in (contact, oncall, foreign_supervisor, receiving_contact):
        assert staff_client(staff).get("/api/v1/transfers").json() == []
    assert device_client(defector_device).get("/api/v1/transfers").status_code == 403
    assert api.get("/api/v1/transfers").status_code == 401
