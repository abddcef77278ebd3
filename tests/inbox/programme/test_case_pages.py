"""A programme's case pages, rendered in-process, from every role's side: the list,
opening a case (and its enrollment code), a case's page, changing who works it, closing
it and destroying its content with two supervisors. Every write goes through
``administration.case_services`` and is audited with its actor; bad input shows the error
next to its field with a 400 and changes nothing."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from backend.accounts.models import Device, StaffRole
from backend.audit.models import AuditEntry
from backend.cases.models import Case, CaseAssignment, EnrollmentCode
from backend.crisis.models import Alert
from backend.crisis.services import raise_alert
from backend.messaging.models import Conversation
from backend.messaging.services import send_message
from tests.conftest import staff_client
from tests.factories import STAFF_PASSWORD
from tests.inbox.programme.conftest import comparable, error_next_to


def cases_url(programme_id: int) -> str:
    return f"/inbox/programmes/{programme_id}/cases/"


def case_url(programme_id: int, case_id: int, action: str = "") -> str:
    return f"/inbox/programmes/{programme_id}/cases/{case_id}/{action}"


def audited(action: str, actor, case_id: int | None = None) -> bool:
    rows = AuditEntry.objects.filter(action=action, actor_id=actor.user.pk)
    return rows.filter(case_id=case_id).exists() if case_id else rows.exists()


# --- who may ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "administer", "open_page"),
    [
        (StaffRole.Role.SUPERVISOR, 200, 200),
        (StaffRole.Role.ADMIN, 403, 200),
        (StaffRole.Role.CONTACT_PERSON, 403, 200),
        (StaffRole.Role.ON_CALL, 403, 403),
    ],
)
def test_each_role_of_the_programme(make_staff, programme, case, role, administer, open_page):
    client = staff_client(make_staff(f"as-{role}", programme, role))
    pages = [
        cases_url(programme.pk),
        case_url(programme.pk, case.pk),
        case_url(programme.pk, case.pk, "close"),
        case_url(programme.pk, case.pk, "shred"),
    ]
    assert [client.get(page).status_code for page in pages] == [administer] * len(pages)
    assert client.get(f"{cases_url(programme.pk)}new/").status_code == open_page
    if administer == 403:
        refused = client.get(case_url(programme.pk, case.pk)).content.decode()
        assert "Bara programmets arbetsledare administrerar dess ärenden." in refused
        assert case.defector.alias not in refused


def test_writes_by_a_role_that_may_not_change_nothing(make_staff, programme, case, contact, oncall):
    client = staff_client(make_staff("as-admin", programme, StaffRole.Role.ADMIN))
    writes = [
        (case_url(programme.pk, case.pk, "primary"), {"user": contact.user.pk}),
        (case_url(programme.pk, case.pk, "backups"), {"user": oncall.user.pk}),
        (case_url(programme.pk, case.pk, f"backups/{contact.user.pk}/remove"), {}),
        (case_url(programme.pk, case.pk, "close"), {"note": "Klart"}),
        (case_url(programme.pk, case.pk, "shred"), {}),
    ]
    assert [client.post(url, body).status_code for url, body in writes] == [403] * len(writes)
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    assert list(case.assignments.values_list("staff_id", "role")) == [(contact.user.pk, "primary")]


def test_another_programmes_staff_get_the_page_of_a_missing_case(foreign_supervisor, supervisor, programme, case):
    foreign = staff_client(foreign_supervisor)
    own = foreign_supervisor.user.staff_roles.get().programme_id
    # Through the case's programme, and through the foreign supervisor's own programme.
    theirs = foreign.get(case_url(programme.pk, case.pk))
    missing = foreign.get(case_url(programme.pk, 999999))
    via_own = foreign.get(case_url(own, case.pk))
    missing_in_own = foreign.get(case_url(own, 999999))
    assert theirs.status_code == missing.status_code == via_own.status_code == missing_in_own.status_code == 404
    assert comparable(theirs.content, case_url(programme.pk, case.pk)) == comparable(
        missing.content, case_url(programme.pk, 999999)
    )
    assert comparable(via_own.content, case_url(own, case.pk)) == comparable(
        missing_in_own.content, case_url(own, 999999)
    )
    assert foreign.get(cases_url(programme.pk)).status_code == 404
    assert foreign.post(case_url(programme.pk, case.pk, "close"), {"note": "x"}).status_code == 404
    # The programme's own supervisor: a missing case looks the same.
    assert staff_client(supervisor).get(case_url(programme.pk, 999999)).status_code == 404


def test_anonymous_visitors_are_sent_to_the_login(client, programme, case):
    for url in (cases_url(programme.pk), case_url(programme.pk, case.pk), f"{cases_url(programme.pk)}new/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == f"/inbox/login/?next={url}"
    assert client.post(case_url(programme.pk, case.pk, "close"), {"note": "x"}).status_code == 302
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN


def test_a_write_without_the_csrf_token_is_refused(supervisor, programme, case):
    browser = Client(enforce_csrf_checks=True)
    browser.get("/inbox/login/")
    login = {"username": "supervisor", "password": STAFF_PASSWORD, "otp": supervisor.otp()}
    assert (
        browser.post("/inbox/login/", login | {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value}).status_code
        == 302
    )
    assert browser.post(case_url(programme.pk, case.pk, "close"), {"note": "Klart"}).status_code == 403
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    form = browser.get(case_url(programme.pk, case.pk, "close")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    sent = browser.post(case_url(programme.pk, case.pk, "close"), {"note": "Klart", "csrfmiddlewaretoken": token})
    assert sent.status_code == 302


# --- the list ---------------------------------------------------------------------------


def test_the_list_shows_who_works_each_case_and_never_its_content(
    supervisor, programme, case, contact, oncall, other_case
):
    CaseAssignment.objects.create(case=case, staff=oncall.user, role=CaseAssignment.Role.BACKUP)
    contact.user.first_name, contact.user.last_name = "Kim", "Kontakt"
    contact.user.save()
    send_message(
        sender=case.defector.user,
        sender_device=None,
        conversation=Conversation.objects.get(case=case),
        client_id=uuid.uuid4(),
        body="Hemligt meddelande",
    )
    other_case.status = Case.Status.CLOSED
    other_case.save()

    html = staff_client(supervisor).get(cases_url(programme.pk)).content.decode()

    rows = re.findall(r'data-testid="case-row" data-case-id="(\d+)" data-state="(\w+)"', html)
    assert rows == [(str(case.pk), "open"), (str(other_case.pk), "closed")]
    assert "Falken" in html and "Ugglan" in html and "Kim Kontakt" in html and "oncall" in html
    assert "Öppet" in html and "Avslutat" in html
    assert "Hemligt meddelande" not in html
    assert not AuditEntry.objects.filter(actor_id=supervisor.user.pk, action__in=["case.read", "messages.read"])


# --- opening a case ---------------------------------------------------------------------


def test_a_supervisor_opens_a_case_and_is_told_who_makes_the_code(supervisor, programme, contact, oncall):
    client = staff_client(supervisor)
    form = client.get(f"{cases_url(programme.pk)}new/").content.decode()
    assert f'<option value="{contact.user.pk}">contact</option>' in form
    assert f'value="{oncall.user.pk}"' in form  # a possible backup, not a primary
    assert form.count(f'value="{oncall.user.pk}"') == 1

    response = client.post(
        f"{cases_url(programme.pk)}new/",
        {"alias": "Korpen", "primary_contact": contact.user.pk, "backups": [oncall.user.pk]},
    )

    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    case = Case.objects.get(defector__alias="Korpen")
    assert set(case.assignments.values_list("staff_id", "role")) == {
        (contact.user.pk, "primary"),
        (oncall.user.pk, "backup"),
    }
    assert audited("case.opened", supervisor, case.pk) and audited("case.assigned", supervisor, case.pk)
    html = response.content.decode()
    assert "Ärendet Korpen är öppnat" in html and "Ny registreringskod" in html
    assert 'id="enrollment-code"' not in html and not EnrollmentCode.objects.filter(case=case).exists()
    # Opening it gave the supervisor no access to it.
    assert client.get(f"/inbox/cases/{case.pk}/").status_code == 404


def test_a_contact_person_opening_their_own_case_gets_the_enrollment_code(contact, programme):
    response = staff_client(contact).post(
        f"{cases_url(programme.pk)}new/", {"alias": "Tranan", "primary_contact": contact.user.pk}
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    html = response.content.decode()
    code = re.search(r'<code id="enrollment-code" class="code">([A-Z0-9-]+)</code>', html).group(1)
    assert "<svg" in html and code
    case = Case.objects.get(defector__alias="Tranan")
    assert EnrollmentCode.objects.filter(case=case, used_at__isnull=True).count() == 1
    assert audited("enrollment_code.created", contact, case.pk)
    assert f"/inbox/cases/{case.pk}/" in html  # to the conversation


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"alias": "", "primary_contact": "CONTACT"}, "id_alias", "Det här fältet är obligatoriskt."),
        ({"alias": "Korpen", "primary_contact": "ONCALL"}, "id_primary_contact", "Välj ett giltigt alternativ."),
        (
            {"alias": "Korpen", "primary_contact": "CONTACT", "backups": ["CONTACT"]},
            "id_backups",
            "Den primära kontaktpersonen kan inte också vara ersättare.",
        ),
        ({"alias": "K" * 81, "primary_contact": "CONTACT"}, "id_alias", "som mest 80 tecken"),
    ],
)
def test_opening_with_bad_input_shows_the_error_and_opens_nothing(
    supervisor, programme, contact, oncall, body, field, message
):
    people = {"CONTACT": contact.user.pk, "ONCALL": oncall.user.pk}
    sent = {k: [people[x] for x in v] if isinstance(v, list) else people.get(v, v) for k, v in body.items()}
    response = staff_client(supervisor).post(f"{cases_url(programme.pk)}new/", sent)
    assert response.status_code == 400
    html = response.content.decode()
    if field == "id_backups":
        assert re.search(rf'<p class="error" id="{field}_error">{message}</p>', html)
    else:
        assert message in error_next_to(html, field)
    assert not Case.objects.exists()


# --- who works the case -------------------------------------------------------------------


def test_a_new_primary_replaces_the_old_one_who_loses_access_at_once(
    supervisor, programme, case, contact, other_contact
):
    old = staff_client(contact)
    assert old.get(f"/inbox/cases/{case.pk}/").status_code == 200
    client = staff_client(supervisor)

    response = client.post(case_url(programme.pk, case.pk, "primary"), {"user": other_contact.user.pk})

    assert response.status_code == 302 and response["Location"] == case_url(programme.pk, case.pk)
    assert list(case.assignments.values_list("staff_id", "role")) == [(other_contact.user.pk, "primary")]
    assert old.get(f"/inbox/cases/{case.pk}/").status_code == 404
    assert staff_client(other_contact).get(f"/inbox/cases/{case.pk}/").status_code == 200
    assert audited("case.unassigned", supervisor, case.pk) and audited("case.assigned", supervisor, case.pk)
    assert (
        'data-testid="primary-contact">other-contact<' in client.get(case_url(programme.pk, case.pk)).content.decode()
    )


def test_a_primary_who_is_not_a_contact_person_is_refused_next_to_the_field(
    supervisor, programme, case, contact, oncall
):
    response = staff_client(supervisor).post(case_url(programme.pk, case.pk, "primary"), {"user": oncall.user.pk})
    assert response.status_code == 400
    assert "Välj ett giltigt alternativ." in error_next_to(response.content.decode(), "primary_user")
    assert list(case.assignments.values_list("staff_id", "role")) == [(contact.user.pk, "primary")]
    assert not AuditEntry.objects.filter(action__startswith="case.", actor_id=supervisor.user.pk).exists()


def test_a_backup_is_added_then_taken_off_and_loses_access_at_once(supervisor, programme, case, oncall):
    client = staff_client(supervisor)
    assert client.post(case_url(programme.pk, case.pk, "backups"), {"user": oncall.user.pk}).status_code == 302
    backup = staff_client(oncall)
    assert backup.get(f"/inbox/cases/{case.pk}/").status_code == 200
    page = client.get(case_url(programme.pk, case.pk)).content.decode()
    assert f'data-testid="backup" data-user-id="{oncall.user.pk}"' in page

    removed = client.post(case_url(programme.pk, case.pk, f"backups/{oncall.user.pk}/remove"))

    assert removed.status_code == 302
    assert backup.get(f"/inbox/cases/{case.pk}/").status_code == 404
    assert AuditEntry.objects.filter(
        action="case.unassigned", actor_id=supervisor.user.pk, target=f"user:{oncall.user.pk}"
    ).exists()


def test_the_primary_is_not_offered_as_a_backup(supervisor, programme, case, contact, oncall):
    client = staff_client(supervisor)
    page = client.get(case_url(programme.pk, case.pk)).content.decode()
    backup_select = re.search(r'<select name="user"[^>]*id="backup_user".*?</select>', page, re.S).group(0)
    assert f'value="{contact.user.pk}"' not in backup_select
    response = client.post(case_url(programme.pk, case.pk, "backups"), {"user": contact.user.pk})
    assert response.status_code == 400
    assert "Välj ett giltigt alternativ." in error_next_to(response.content.decode(), "backup_user")
    assert list(case.assignments.values_list("staff_id", "role")) == [(contact.user.pk, "primary")]


def test_the_primary_cannot_be_taken_off_only_replaced(supervisor, programme, case, contact):
    client = staff_client(supervisor)
    removed = client.post(case_url(programme.pk, case.pk, f"backups/{contact.user.pk}/remove"))
    assert removed.status_code == 409
    assert "Ett ärende har alltid en primär kontaktperson: utse en annan först." in removed.content.decode()
    assert list(case.assignments.values_list("staff_id", "role")) == [(contact.user.pk, "primary")]
    assert client.post(case_url(programme.pk, case.pk, "backups/999999/remove")).status_code == 404


def test_the_case_page_shows_no_content(supervisor, programme, case, defector_device):
    send_message(
        sender=case.defector.user,
        sender_device=None,
        conversation=Conversation.objects.get(case=case),
        client_id=uuid.uuid4(),
        body="Var är du?",
    )
    raise_alert(case=case, kind=Alert.Kind.PANIC, severity="critical")
    html = staff_client(supervisor).get(case_url(programme.pk, case.pk)).content.decode()
    assert "Falken" in html and "Var är du?" not in html and "Panik" not in html
    assert not AuditEntry.objects.filter(actor_id=supervisor.user.pk, action__in=["case.read", "messages.read"])


# --- closing ------------------------------------------------------------------------------


def test_closing_asks_first_then_revokes_stops_and_resolves(supervisor, programme, case, defector_device):
    alert = raise_alert(case=case, kind=Alert.Kind.PANIC, severity="critical")
    client = staff_client(supervisor)
    confirm = client.get(case_url(programme.pk, case.pk, "close"))
    assert confirm.status_code == 200 and "Avsluta ärendet Falken?" in confirm.content.decode()

    response = client.post(case_url(programme.pk, case.pk, "close"), {"note": "Flyttat utomlands, avslutat."})

    assert response.status_code == 302
    case.refresh_from_db()
    alert.refresh_from_db()
    assert case.status == Case.Status.CLOSED
    assert Device.objects.get(pk=defector_device.device_id).revoked_at is not None
    assert alert.state == Alert.State.RESOLVED and alert.resolution_note == "Flyttat utomlands, avslutat."
    assert audited("case.closed", supervisor, case.pk)
    page = client.get(case_url(programme.pk, case.pk)).content.decode()
    assert 'data-testid="case-state">Avslutat<' in page and "Förstör innehållet …" in page


def test_closing_without_a_note_shows_the_error_and_keeps_the_case_open(supervisor, programme, case):
    response = staff_client(supervisor).post(case_url(programme.pk, case.pk, "close"), {"note": "   "})
    assert response.status_code == 400
    assert "Det här fältet är obligatoriskt." in error_next_to(response.content.decode(), "id_note")
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    assert not AuditEntry.objects.filter(action="case.closed").exists()


def test_closing_twice_says_the_case_is_closed(supervisor, programme, case):
    client = staff_client(supervisor)
    assert client.post(case_url(programme.pk, case.pk, "close"), {"note": "Klart"}).status_code == 302
    again = client.post(case_url(programme.pk, case.pk, "close"), {"note": "Klart igen"})
    assert again.status_code == 409 and "Ärendet är avslutat." in again.content.decode()


# --- destroying the content ----------------------------------------------------------------


def test_two_supervisors_destroy_a_closed_cases_content(supervisor, second_supervisor, programme, case):
    first, second = staff_client(supervisor), staff_client(second_supervisor)
    assert first.post(case_url(programme.pk, case.pk, "close"), {"note": "Klart"}).status_code == 302
    asked_at = timezone.now()
    with time_machine.travel(asked_at, tick=False):
        assert first.post(case_url(programme.pk, case.pk, "shred")).status_code == 302
    until = (asked_at + dt.timedelta(hours=24)).astimezone(ZoneInfo(settings.LIVLINA_INBOX_TIME_ZONE))
    page = first.get(case_url(programme.pk, case.pk)).content.decode()
    assert f"Väntar på en andra arbetsledare till {until:%Y-%m-%d %H:%M}." in page
    assert "Bekräfta: förstör innehållet" not in page  # not for the one who asked

    again = first.post(case_url(programme.pk, case.pk, "shred"))
    assert again.status_code == 409
    assert "Du har själv begärt detta: en annan arbetsledare måste bekräfta." in again.content.decode()
    assert audited("case.shred_requested", supervisor, case.pk)

    confirm = second.get(case_url(programme.pk, case.pk, "shred")).content.decode()
    assert "Om du bekräftar förstörs innehållet nu." in confirm
    assert second.post(case_url(programme.pk, case.pk, "shred")).status_code == 302

    assert audited("case.shred_confirmed", second_supervisor, case.pk)
    page = second.get(case_url(programme.pk, case.pk)).content.decode()
    assert 'data-testid="content-destroyed"' in page and 'data-testid="case-state">Innehållet förstört<' in page
    listed = second.get(cases_url(programme.pk)).content.decode()
    assert f'data-case-id="{case.pk}" data-state="shredded"' in listed


def test_an_open_case_cannot_be_shredded(supervisor, programme, case):
    client = staff_client(supervisor)
    assert (
        "Avsluta ärendet innan du förstör innehållet."
        in client.get(case_url(programme.pk, case.pk, "shred")).content.decode()
    )
    refused = client.post(case_url(programme.pk, case.pk, "shred"))
    assert refused.status_code == 409
    assert not AuditEntry.objects.filter(action="case.shred_requested").exists()


# --- the programme overview ---------------------------------------------------------------

CASE_AND_ONCALL_SECTIONS = {"Ärenden", "Flyttar mellan program", "Öppna ärende", "Jour"}


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        (StaffRole.Role.SUPERVISOR, ["Ärenden", "Flyttar mellan program", "Jour"]),
        (StaffRole.Role.ADMIN, ["Öppna ärende", "Jour"]),
        (StaffRole.Role.CONTACT_PERSON, ["Öppna ärende", "Jour"]),
        (StaffRole.Role.ON_CALL, ["Jour"]),
    ],
)
def test_the_overview_links_the_sections_a_role_opens_and_each_opens(make_staff, programme, role, shown):
    client = staff_client(make_staff(f"as-{role}", programme, role))
    html = client.get("/inbox/programmes/").content.decode()
    links = [(url, title) for url, title in re.findall(r'<li><a href="([^"]+)">([^<]+)</a>', html)]
    assert [title for _url, title in links if title in CASE_AND_ONCALL_SECTIONS] == shown
    for url, title in links:
        if title in CASE_AND_ONCALL_SECTIONS:
            assert client.get(url).status_code == 200, url
