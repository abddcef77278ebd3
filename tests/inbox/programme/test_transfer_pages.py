"""Moving a case to another programme through the pages: proposed on the case's page,
answered on the receiving programme's transfers page. After acceptance the sending
programme's contact person finds nothing (case, conversation, alerts) and the sending
side sees only "accepted"."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import time_machine
from django.utils import timezone

from backend.accounts.models import StaffRole
from backend.administration.models import CaseTransfer
from backend.audit.models import AuditEntry
from backend.crisis.models import Alert
from backend.crisis.services import raise_alert
from backend.messaging.models import Conversation
from backend.messaging.services import send_message
from tests.conftest import device_client, staff_client
from tests.inbox.programme.conftest import comparable, error_next_to


def transfers_url(programme_id: int) -> str:
    return f"/inbox/programmes/{programme_id}/transfers/"


def propose_url(programme_id: int, case_id: int) -> str:
    return f"/inbox/programmes/{programme_id}/cases/{case_id}/transfer"


def answer_url(programme_id: int, transfer_id: int, answer: str) -> str:
    return f"/inbox/programmes/{programme_id}/transfers/{transfer_id}/{answer}"


@pytest.fixture
def proposed(supervisor, programme, case, receiving) -> CaseTransfer:
    response = staff_client(supervisor).post(propose_url(programme.pk, case.pk), {"to_programme": receiving.pk})
    assert response.status_code == 302, response.content
    return CaseTransfer.objects.get(case=case)


def accept_field(transfer: CaseTransfer) -> str:
    return f"transfer-{transfer.pk}-primary_contact"


# --- who may ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (StaffRole.Role.SUPERVISOR, 200),
        (StaffRole.Role.ADMIN, 403),
        (StaffRole.Role.CONTACT_PERSON, 403),
        (StaffRole.Role.ON_CALL, 403),
    ],
)
def test_the_transfers_page_is_for_supervisors(make_staff, programme, role, expected):
    client = staff_client(make_staff(f"as-{role}", programme, role))
    response = client.get(transfers_url(programme.pk))
    assert response.status_code == expected
    if expected == 403:
        assert "Bara programmets arbetsledare administrerar dess ärenden." in response.content.decode()


def test_only_the_receiving_programmes_supervisors_answer(
    make_staff, proposed, supervisor, receiving, receiving_contact, programme
):
    body = {f"{accept_field(proposed)}": receiving_contact.user.pk}
    contact_there = staff_client(receiving_contact)
    assert contact_there.post(answer_url(receiving.pk, proposed.pk, "accept"), body).status_code == 403
    assert contact_there.post(answer_url(receiving.pk, proposed.pk, "decline")).status_code == 403
    # The sending supervisor: not their programme's page, nor their programme's transfer to answer.
    sender = staff_client(supervisor)
    assert sender.post(answer_url(receiving.pk, proposed.pk, "accept"), body).status_code == 404
    assert sender.post(answer_url(programme.pk, proposed.pk, "accept"), body).status_code == 404
    assert sender.post(answer_url(programme.pk, proposed.pk, "decline")).status_code == 404
    proposed.refresh_from_db()
    assert proposed.state == CaseTransfer.State.PROPOSED


def test_another_programmes_staff_find_nothing(foreign_supervisor, programme, case, proposed):
    foreign = staff_client(foreign_supervisor)
    page, missing = foreign.get(transfers_url(programme.pk)), foreign.get(transfers_url(999999))
    assert page.status_code == missing.status_code == 404
    assert comparable(page.content, transfers_url(programme.pk)) == comparable(missing.content, transfers_url(999999))
    assert foreign.post(propose_url(programme.pk, case.pk), {"to_programme": 1}).status_code == 404


def test_anonymous_visitors_are_sent_to_the_login(client, programme, case, proposed):
    url = transfers_url(programme.pk)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"/inbox/login/?next={url}"
    assert client.post(answer_url(programme.pk, proposed.pk, "decline")).status_code == 302
    proposed.refresh_from_db()
    assert proposed.state == CaseTransfer.State.PROPOSED


# --- proposing ----------------------------------------------------------------------------


def test_a_supervisor_proposes_a_move_from_the_case_page(supervisor, programme, case, receiving):
    client = staff_client(supervisor)
    page = client.get(f"/inbox/programmes/{programme.pk}/cases/{case.pk}/").content.decode()
    assert f'<option value="{receiving.pk}">Receiving programme</option>' in page
    assert f'<option value="{programme.pk}">' not in page  # not to itself

    response = client.post(propose_url(programme.pk, case.pk), {"to_programme": receiving.pk})

    assert response.status_code == 302
    transfer = CaseTransfer.objects.get(case=case)
    assert transfer.state == CaseTransfer.State.PROPOSED and transfer.to_programme == receiving
    assert AuditEntry.objects.filter(
        action="case.transfer_proposed", actor_id=supervisor.user.pk, case_id=case.pk
    ).exists()
    page = client.get(f"/inbox/programmes/{programme.pk}/cases/{case.pk}/").content.decode()
    assert 'data-testid="transfer-pending"' in page and "En flytt till Receiving programme föreslogs" in page
    outgoing = client.get(transfers_url(programme.pk)).content.decode()
    assert f'data-transfer-id="{transfer.pk}" data-state="proposed"' in outgoing and "Väntar på svar" in outgoing


@pytest.mark.parametrize("target", ["own", "missing", ""])
def test_a_move_to_nowhere_is_refused_next_to_the_field(supervisor, programme, case, receiving, target):
    to_programme = {"own": programme.pk, "missing": 999999, "": ""}[target]
    response = staff_client(supervisor).post(propose_url(programme.pk, case.pk), {"to_programme": to_programme})
    assert response.status_code == 400
    assert error_next_to(response.content.decode(), "id_to_programme")
    assert not CaseTransfer.objects.exists()


def test_a_second_proposal_waits_for_the_first(supervisor, programme, case, receiving, proposed):
    again = staff_client(supervisor).post(propose_url(programme.pk, case.pk), {"to_programme": receiving.pk})
    assert again.status_code == 409
    assert "En flytt av ärendet väntar redan på svar." in again.content.decode()
    assert CaseTransfer.objects.count() == 1


# --- answering ----------------------------------------------------------------------------


def test_acceptance_moves_the_case_and_the_sending_side_learns_only_that(
    supervisor, contact, programme, case, receiving, receiving_supervisor, receiving_contact, proposed, defector_device
):
    conversation = Conversation.objects.get(case=case)
    send_message(
        sender=case.defector.user, sender_device=None, conversation=conversation, client_id=uuid.uuid4(), body="Hej"
    )
    alert = raise_alert(case=case, kind=Alert.Kind.PANIC, severity="critical")
    sending_contact = staff_client(contact)
    assert sending_contact.get(f"/inbox/cases/{case.pk}/").status_code == 200

    receiver = staff_client(receiving_supervisor)
    incoming = receiver.get(transfers_url(receiving.pk)).content.decode()
    assert f'data-testid="incoming-transfer" data-transfer-id="{proposed.pk}"' in incoming
    assert "Föreslaget av Test programme" in incoming
    assert f'<option value="{receiving_contact.user.pk}">Charlie Mottagare</option>' in incoming
    assert f'value="{contact.user.pk}"' not in incoming  # only the receiving programme's contact persons

    response = receiver.post(
        answer_url(receiving.pk, proposed.pk, "accept"), {accept_field(proposed): receiving_contact.user.pk}
    )

    assert response.status_code == 302 and response["Location"] == transfers_url(receiving.pk)
    proposed.refresh_from_db()
    case.refresh_from_db()
    assert proposed.state == CaseTransfer.State.ACCEPTED and case.programme == receiving
    for action in ("case.transferred_out", "case.transferred_in"):
        assert AuditEntry.objects.filter(action=action, actor_id=receiving_supervisor.user.pk).exists()
    # The sending programme's contact person: the case, its conversation, its alerts are gone.
    assert sending_contact.get(f"/inbox/cases/{case.pk}/").status_code == 404
    assert sending_contact.get(f"/inbox/cases/{case.pk}/messages/?before_seq=2").status_code == 404
    assert sending_contact.get(f"/inbox/cases/{case.pk}/checkins/").status_code == 404
    assert sending_contact.post(f"/inbox/alerts/{alert.pk}/ack", {"note": ""}).status_code == 404
    assert f'data-alert-id="{alert.pk}"' not in sending_contact.get("/inbox/alerts/").content.decode()
    assert staff_client(supervisor).get(f"/inbox/programmes/{programme.pk}/cases/{case.pk}/").status_code == 404
    # The defector's token keeps working; the receiving contact person reads on.
    app = device_client(defector_device)
    assert app.get(f"/api/v1/conversations/{conversation.pk}/messages").status_code == 200
    assert staff_client(receiving_contact).get(f"/inbox/cases/{case.pk}/").status_code == 200
    # The sending side's page says "accepted", and nothing about who works the case now.
    outgoing = staff_client(supervisor).get(transfers_url(programme.pk)).content.decode()
    assert f'data-transfer-id="{proposed.pk}" data-state="accepted"' in outgoing and "Godkänd" in outgoing
    for receiving_side in ("Charlie", "Mottagare", "receiving-contact", "receiving-supervisor"):
        assert receiving_side not in outgoing
    # The receiving side finds the case among its own.
    listed = receiver.get(f"/inbox/programmes/{receiving.pk}/cases/").content.decode()
    assert f'data-case-id="{case.pk}"' in listed and "Charlie Mottagare" in listed


def test_accepting_with_someone_who_is_not_a_receiving_contact_changes_nothing(
    contact, receiving, receiving_supervisor, case, programme, proposed
):
    response = staff_client(receiving_supervisor).post(
        answer_url(receiving.pk, proposed.pk, "accept"), {accept_field(proposed): contact.user.pk}
    )
    assert response.status_code == 400
    assert "Välj ett giltigt alternativ." in error_next_to(response.content.decode(), f"id_{accept_field(proposed)}")
    proposed.refresh_from_db()
    case.refresh_from_db()
    assert proposed.state == CaseTransfer.State.PROPOSED and case.programme == programme
    assert not AuditEntry.objects.filter(action__startswith="case.transferred").exists()


def test_a_declined_move_changes_nothing_and_the_sender_sees_declined(
    supervisor, contact, programme, case, receiving, receiving_supervisor, proposed
):
    receiver = staff_client(receiving_supervisor)
    assert receiver.post(answer_url(receiving.pk, proposed.pk, "decline")).status_code == 302
    proposed.refresh_from_db()
    case.refresh_from_db()
    assert proposed.state == CaseTransfer.State.DECLINED and case.programme == programme
    assert AuditEntry.objects.filter(action="case.transfer_declined_out", actor_id=receiving_supervisor.user.pk)
    assert staff_client(contact).get(f"/inbox/cases/{case.pk}/").status_code == 200
    outgoing = staff_client(supervisor).get(transfers_url(programme.pk)).content.decode()
    assert f'data-transfer-id="{proposed.pk}" data-state="declined"' in outgoing and "Avböjd" in outgoing
    answered = receiver.get(transfers_url(receiving.pk)).content.decode()
    assert 'data-testid="incoming-transfer"' not in answered and "Avböjd" in answered
    again = receiver.post(answer_url(receiving.pk, proposed.pk, "decline"))
    assert again.status_code == 409 and "Förslaget är redan besvarat." in again.content.decode()


def test_an_expired_proposal_cannot_be_accepted(
    supervisor, programme, case, receiving, receiving_supervisor, receiving_contact, proposed
):
    with time_machine.travel(timezone.now() + dt.timedelta(days=8)):
        late = staff_client(receiving_supervisor).post(
            answer_url(receiving.pk, proposed.pk, "accept"), {accept_field(proposed): receiving_contact.user.pk}
        )
        assert late.status_code == 409
        assert "Förslaget har gått ut" in late.content.decode()
        outgoing = staff_client(supervisor).get(transfers_url(programme.pk)).content.decode()
    assert re.search(rf'data-transfer-id="{proposed.pk}" data-state="expired"', outgoing) and "Har gått ut" in outgoing
    case.refresh_from_db()
    assert case.programme == programme
