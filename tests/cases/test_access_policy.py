"""The access matrix, from every role's side: who may see a case."""

from __future__ import annotations

import re
from urllib.parse import quote

import time_machine
from django.utils import timezone

from backend.accounts.models import StaffRole
from backend.audit.models import AuditEntry
from backend.cases import policy
from backend.cases.services import assign_backup, end_alert_access, grant_alert_access
from backend.cases.views import READ_REASON_PATTERN
from tests.conftest import device_client
from tests.factories import DeviceFactory


def visible_ids(client) -> list[int]:
    response = client.get("/api/v1/cases")
    assert response.status_code == 200
    return [c["id"] for c in response.json()]


def test_defector_sees_only_their_own_case(case, other_case, contact, defector_device):
    client = device_client(defector_device)
    assert visible_ids(client) == [case.pk]
    assert client.get(f"/api/v1/cases/{case.pk}").status_code == 200
    response = client.get(f"/api/v1/cases/{other_case.pk}")
    assert response.status_code == 404
    # Not found and not allowed look the same, so ids leak nothing.
    assert response.json() == client.get("/api/v1/cases/999999").json()


def test_primary_contact_sees_their_case_not_others(case, other_case, contact, as_staff):
    client = as_staff(contact)
    assert visible_ids(client) == [case.pk]
    assert client.get(f"/api/v1/cases/{other_case.pk}").status_code == 404


def test_backup_contact_sees_the_case_once_assigned(case, contact, make_staff, programme, as_staff):
    backup = make_staff("backup", programme, StaffRole.Role.CONTACT_PERSON)
    assert visible_ids(as_staff(backup)) == []
    assign_backup(case=case, staff=backup.user, actor=contact.user)
    assert visible_ids(as_staff(backup)) == [case.pk]


def test_on_call_sees_a_case_only_while_holding_its_alert(case, oncall, as_staff):
    client = as_staff(oncall)
    assert client.get(f"/api/v1/cases/{case.pk}").status_code == 404
    grant_alert_access(case=case, staff=oncall.user, alert_ref="alert:1", reason="holding alert 1")
    assert client.get(f"/api/v1/cases/{case.pk}").status_code == 200
    end_alert_access(alert_ref="alert:1")
    assert client.get(f"/api/v1/cases/{case.pk}").status_code == 404


def test_supervisor_role_alone_opens_nothing(case, supervisor, as_staff):
    client = as_staff(supervisor)
    assert visible_ids(client) == []
    assert client.get(f"/api/v1/cases/{case.pk}").status_code == 404


def test_supervisor_break_glass_needs_a_reason_and_expires(case, supervisor, as_staff):
    client = as_staff(supervisor)
    short = client.post(f"/api/v1/cases/{case.pk}/break-glass", {"reason": "because"}, format="json")
    assert short.status_code == 400
    assert short.json()["errors"][0]["field"] == "reason"
    opened = client.post(
        f"/api/v1/cases/{case.pk}/break-glass",
        {"reason": "Contact person on leave; defector reported a threat"},
        format="json",
    )
    assert opened.status_code == 201
    assert client.get(f"/api/v1/cases/{case.pk}").status_code == 200
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=4, minutes=1)):
        assert policy.visible_cases(supervisor.user).count() == 0


def test_break_glass_by_non_supervisors_is_not_found(case, other_contact, foreign_supervisor, oncall, as_staff):
    for person in (other_contact, foreign_supervisor, oncall):
        response = as_staff(person).post(
            f"/api/v1/cases/{case.pk}/break-glass",
            {"reason": "I would like to look at this case please"},
            format="json",
        )
        assert response.status_code == 404


def test_staff_of_another_programme_see_nothing(case, foreign_supervisor, as_staff):
    assert visible_ids(as_staff(foreign_supervisor)) == []


def test_inactive_staff_see_nothing(case, contact):
    contact.user.is_active = False
    contact.user.save()
    assert policy.visible_cases(contact.user).count() == 0


def test_defector_devices_list_is_for_staff_on_the_case(case, contact, other_contact, as_staff):
    DeviceFactory(user=case.defector.user)
    assert len(as_staff(contact).get(f"/api/v1/cases/{case.pk}/devices").json()) == 1
    assert as_staff(other_contact).get(f"/api/v1/cases/{case.pk}/devices").status_code == 404


def test_control_characters_in_the_audit_reason_are_refused(case, contact, as_staff):
    response = as_staff(contact).get(f"/api/v1/cases/{case.pk}", HTTP_X_LIVLINA_REASON="a%00b")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "X-Livlina-Reason"


def test_the_read_reason_comes_in_a_header_and_lands_in_the_audit_log(case, contact, as_staff):
    reason = "Kontaktpersonen är sjuk; läser inför samtal"
    response = as_staff(contact).get(f"/api/v1/cases/{case.pk}", HTTP_X_LIVLINA_REASON=quote(reason))
    assert response.status_code == 200, response.content
    assert AuditEntry.objects.filter(action="case.read").latest("pk").reason == reason


def test_a_reason_in_the_url_is_refused_so_no_access_log_keeps_it(case, contact, as_staff):
    # Proxies and Daphne log every URL; a free-text reason must not ride in one.
    response = as_staff(contact).get(f"/api/v1/cases/{case.pk}?why=holding+for+a+colleague")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "why"
    assert not AuditEntry.objects.filter(action="case.read").exists()


def test_a_reason_that_is_not_percent_encoded_utf8_or_too_long_is_refused(case, contact, as_staff):
    client = as_staff(contact)
    # Not UTF-8; too long; a raw tab; a C1 control (NEL); a "%" that encodes nothing; raw Latin-1.
    for header in ("%FF%FE", quote("x" * 201), "a\tb", quote("\x85"), "100%", "caf\xe9"):
        response = client.get(f"/api/v1/cases/{case.pk}", HTTP_X_LIVLINA_REASON=header)
        assert response.status_code == 400, header
        assert response.json()["errors"][0]["field"] == "X-Livlina-Reason"


def test_the_reason_pattern_takes_every_character_but_controls_percent_encoded():
    # The pattern the schema states is the server's whole rule: checked here against the
    # encoding of every character (surrogates have none).
    for code in (*range(0x3000), *range(0xE000, 0x110000, 97)):
        character = chr(code)
        control = code < 0x20 or 0x7F <= code <= 0x9F
        assert bool(re.fullmatch(READ_REASON_PATTERN, quote(character, safe=""))) is not control, hex(code)
    assert re.fullmatch(READ_REASON_PATTERN, quote("ä😀") * 100)
    assert not re.fullmatch(READ_REASON_PATTERN, quote("ä😀") * 100 + "x")


def test_the_client_sends_the_reason_in_the_header(case, contact):
    import httpx

    from client.device import DeviceSession, LivlinaClient
    from tests.factories import StaffDeviceSessionFactory

    phone: DeviceSession = StaffDeviceSessionFactory(user=contact.user)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": case.pk})

    app = LivlinaClient("http://testserver", transport=httpx.MockTransport(answer))
    app.read_case(phone, case.pk, reason="Jourhavande, larm 12")
    assert "why" not in str(seen[0].url) and "Jourhavande" not in str(seen[0].url)
    assert seen[0].headers["X-Livlina-Reason"] == quote("Jourhavande, larm 12")
