"""The audit log pages, from every role's side: a programme's supervisors and admins read
its entries (paged, filtered by staff member, case, kind and day), see the chain's
verdict and export CSV (itself audited, like the API's export); everyone else is refused
as the API refuses them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from urllib.parse import quote

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from backend.audit.models import AuditEntry
from backend.audit.services import record_event
from tests.factories import CaseFactory
from tests.inbox.programme.conftest import refusals_look_alike


def pages(programme_id: int) -> list[str]:
    base = f"/inbox/programmes/{programme_id}/audit/"
    return [base, f"{base}export/", f"{base}verification/"]


def seqs(html: str) -> list[int]:
    return [int(seq) for seq in re.findall(r'data-testid="audit-row" data-seq="(\d+)"', html)]


@pytest.mark.parametrize(
    ("role", "status"), [("supervisor", 200), ("admin", 200), ("contact_person", 403), ("on_call", 403)]
)
def test_each_role_of_the_programme_as_the_api_answers(staff_in_role, programme, as_staff, role, status):
    client = as_staff(staff_in_role[role])
    assert [client.get(url).status_code for url in pages(programme.pk)] == [status] * 3
    if status == 403:
        refused = client.get(pages(programme.pk)[1]).content.decode()
        assert "Bara programmets arbetsledare och administratörer kan läsa dess granskningslogg." in refused
        assert not AuditEntry.objects.filter(action="audit.exported").exists()


def test_another_programme_looks_like_no_programme(foreign_supervisor, programme, as_staff):
    for url in pages(programme.pk):
        refusals_look_alike(as_staff(foreign_supervisor), url, programme.pk)
    assert not AuditEntry.objects.filter(action="audit.exported").exists()


def test_anonymous_visitors_are_sent_to_the_login(client, programme):
    for url in pages(programme.pk):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == f"/inbox/login/?next={url}"


def test_who_read_which_case_when_and_why_filtered_by_person_case_and_kind(
    supervisor, programme, contact, case, other_case, foreign_supervisor, as_staff
):
    reader = as_staff(contact)
    reason = quote("veckogenomgång")  # the header is percent-encoded UTF-8, as documented
    assert reader.get(f"/api/v1/cases/{case.pk}", HTTP_X_LIVLINA_REASON=reason).status_code == 200
    foreign_case = CaseFactory(programme=foreign_supervisor.user.staff_roles.get().programme, alias="Korpen")
    client = as_staff(supervisor)
    url = pages(programme.pk)[0]

    everything = client.get(url).content.decode()
    assert seqs(everything) == sorted(seqs(everything), reverse=True)
    assert "Korpen" not in everything and f"case:{foreign_case.pk}" not in everything

    read = client.get(url, {"actor": contact.user.pk, "case": case.pk, "action": "case.read"}).content.decode()
    assert len(seqs(read)) == 1
    row = read[read.index('data-testid="audit-row"') :]
    row = row[: row.index("</tr>")]
    assert "contact" in row and "Falken" in row and "veckogenomgång" in row and "case.read" in row
    assert re.search(r'data-testid="audit-count">1 post<', read)
    # The choices offer the programme's people, cases and the kinds in its log.
    assert f'<option value="{other_case.pk}">Ugglan</option>' in everything
    assert '<option value="case.">case.… (alla)</option>' in everything

    group = client.get(url, {"action": "case."}).content.decode()
    actions = set(re.findall(r"<code>([a-z_.0-9]+)</code>", group))
    assert actions and all(action.startswith("case.") for action in actions)


def test_days_are_whole_days_in_the_inbox_time_zone(supervisor, programme, as_staff):
    # 23:30 in Stockholm on 1 December is 22:30 UTC: it belongs to the 1st, not the 2nd.
    with time_machine.travel(dt.datetime(2026, 12, 1, 22, 30, tzinfo=dt.UTC)):
        late = record_event(action="programme.note", actor=supervisor.user, details={"programme": programme.pk})
    with time_machine.travel(dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)):
        next_day = record_event(action="programme.note", actor=supervisor.user, details={"programme": programme.pk})
    client = as_staff(supervisor)
    first = client.get(pages(programme.pk)[0], {"since": "2026-12-01", "until": "2026-12-01"}).content.decode()
    assert seqs(first) == [late.seq]
    assert "2026-12-01 23:30" in first
    second = client.get(pages(programme.pk)[0], {"since": "2026-12-02", "action": "programme."}).content.decode()
    assert next_day.seq in seqs(second) and late.seq not in seqs(second)


def test_pages_of_fifty_newest_first(supervisor, programme, as_staff):
    for n in range(120):
        record_event(action="programme.note", actor=supervisor.user, details={"programme": programme.pk, "n": n})
    client = as_staff(supervisor)
    url = pages(programme.pk)[0]
    first = client.get(url, {"action": "programme.note"}).content.decode()
    assert len(seqs(first)) == 50 and "sida 1 av 3" in first
    following = re.search(r'href="\?([^"]+)" rel="next"', first)
    assert following
    second = client.get(f"{url}?{following.group(1).replace('&amp;', '&')}").content.decode()
    assert "sida 2 av 3" in second and max(seqs(second)) < min(seqs(first))
    last = client.get(url, {"action": "programme.note", "page": 99}).content.decode()
    assert len(seqs(last)) == 20 and "sida 3 av 3" in last


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"actor": "someone"}, "actor"),
        ({"case": "999999"}, "case"),
        ({"action": "no.such.kind"}, "action"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-12-02", "until": "2026-12-01"}, "until"),
        ({"page": "0"}, "page"),
    ],
)
def test_bad_filters_show_the_form_again_with_the_error(supervisor, programme, as_staff, query, field):
    client = as_staff(supervisor)
    for url in pages(programme.pk)[:2]:
        response = client.get(url, query)
        assert response.status_code == 400
        assert f'data-testid="error-{field}"' in response.content.decode()
    assert not AuditEntry.objects.filter(action="audit.exported").exists()


def test_the_csv_export_has_the_filtered_entries_and_is_itself_audited(supervisor, programme, contact, case, as_staff):
    reader = as_staff(contact)
    assert reader.get(f"/api/v1/cases/{case.pk}", HTTP_X_LIVLINA_REASON=quote("=HYPERLINK(1)")).status_code == 200
    client = as_staff(supervisor)
    page = client.get(pages(programme.pk)[0], {"action": "case.read"}).content.decode()
    link = re.search(r'href="([^"]+)" data-testid="export-csv"', page)
    assert link and link.group(1) == f"/inbox/programmes/{programme.pk}/audit/export/?action=case.read"

    response = client.get(link.group(1))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="audit-programme-{programme.pk}.csv"'
    assert response["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["action"] for row in rows] == ["case.read"]
    assert rows[0]["reason"] == "'=HYPERLINK(1)"  # never run as a formula
    exported = AuditEntry.objects.get(action="audit.exported")
    assert exported.actor_id == supervisor.user.pk
    assert exported.details == {"programme": programme.pk, "rows": 1}


def test_the_verdict_is_verify_audits(supervisor, programme, case, as_staff):
    client = as_staff(supervisor)
    url = pages(programme.pk)[2]
    intact = client.get(url).content.decode()
    assert 'data-testid="verdict" data-ok="true"' in intact
    assert f"Kontrollerade {AuditEntry.objects.count()} poster" in intact
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET reason = 'edited' WHERE seq = 1")
    broken = client.get(url).content.decode()
    assert 'data-ok="false"' in broken and "Den första trasiga posten är nummer 1." in broken


def test_the_system_and_people_outside_the_programme_are_shown_without_a_name(
    supervisor, foreign_supervisor, programme, case, as_staff
):
    record_event(action="case.note", actor=None, case_id=case.pk, details={})
    record_event(action="case.note", actor=foreign_supervisor.user, case_id=case.pk, target="user:1", details={})
    html = as_staff(supervisor).get(pages(programme.pk)[0], {"action": "case.note"}).content.decode()
    assert '<td data-label="Vem">Systemet</td>' in html
    assert '<td data-label="Vem">Någon utanför programmet</td>' in html
    assert "foreign-supervisor" not in html and "user:1" not in html
    assert timezone.localtime().strftime("%Y-%m-%d") in html
