"""A programme's audit trail for its supervisors and admins: paged, filtered by staff
member, case and kind, with verify_audit's verdict and a CSV export; other programmes'
entries never show, and people outside the programme are shown without a name."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest
from django.db import connection

from backend.accounts.models import StaffRole
from backend.audit.models import AuditEntry
from tests.conftest import device_client, staff_client
from tests.factories import CaseFactory


def answers(client, programme_id: int) -> tuple[int, ...]:
    base = f"/api/v1/programmes/{programme_id}/audit"
    return (
        client.get(base).status_code,
        client.get(f"{base}/verification").status_code,
        client.get(f"{base}/export").status_code,
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (StaffRole.Role.CONTACT_PERSON, (403, 403, 403)),
        (StaffRole.Role.ON_CALL, (403, 403, 403)),
        (StaffRole.Role.SUPERVISOR, (200, 200, 200)),
        (StaffRole.Role.ADMIN, (200, 200, 200)),
    ],
)
def test_each_role_of_the_programme(make_staff, programme, role, expected):
    assert answers(staff_client(make_staff(f"as-{role}", programme, role)), programme.pk) == expected


def test_other_programmes_defectors_and_anonymous_callers(foreign_supervisor, programme, defector_device, api):
    assert answers(staff_client(foreign_supervisor), programme.pk) == (404, 404, 404)
    assert answers(device_client(defector_device), programme.pk) == (403, 403, 403)
    assert answers(api, programme.pk) == (401, 401, 401)


def test_who_read_which_case_when_and_why_filtered_and_paged(supervisor, programme, contact, case, foreign_supervisor):
    reader = staff_client(contact)
    reader.get(f"/api/v1/cases/{case.pk}", HTTP_X_LIVLINA_REASON="weekly%20review")  # the reason rides a header
    foreign_case = CaseFactory(programme=foreign_supervisor.user.staff_roles.get().programme)
    client = staff_client(supervisor)
    url = f"/api/v1/programmes/{programme.pk}/audit"
    everything = client.get(url, {"page_size": 200}).json()
    cases = {row["case_id"] for row in everything["results"]}
    assert case.pk in cases and foreign_case.pk not in cases
    seqs = [row["seq"] for row in everything["results"]]
    assert seqs == sorted(seqs, reverse=True)
    reads = client.get(url, {"actor": contact.user.pk, "case": case.pk, "action": "case.read"}).json()
    assert reads["count"] == 1
    [read] = reads["results"]
    assert read["actor_label"] == "contact" and read["reason"] == "weekly review"
    first = client.get(url, {"page_size": 1}).json()
    second = client.get(url, {"page_size": 1, "page": 2}).json()
    assert first["count"] == everything["count"] and len(first["results"]) == 1
    assert second["results"][0]["seq"] < first["results"][0]["seq"]
    bad = client.get(url, {"page_size": 0})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "page_size"


def test_the_verdict_is_verify_audits(supervisor, programme, case):
    client = staff_client(supervisor)
    verdict = client.get(f"/api/v1/programmes/{programme.pk}/audit/verification").json()
    assert verdict["ok"] is True and verdict["entries_checked"] == AuditEntry.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET reason = 'edited' WHERE seq = 1")
    broken = client.get(f"/api/v1/programmes/{programme.pk}/audit/verification").json()
    assert broken["ok"] is False and broken["first_broken_seq"] == 1


def test_the_csv_export_has_the_filtered_entries_and_is_itself_audited(supervisor, programme, contact, case):
    read = staff_client(contact).get(f"/api/v1/cases/{case.pk}", HTTP_X_LIVLINA_REASON=quote("=HYPERLINK(1)"))
    assert read.status_code == 200
    response = staff_client(supervisor).get(f"/api/v1/programmes/{programme.pk}/audit/export", {"action": "case.read"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["action"] for row in rows] == ["case.read"]
    assert rows[0]["reason"] == "'=HYPERLINK(1)"  # never run as a formula
    exported = AuditEntry.objects.get(action="audit.exported")
    assert exported.actor_id == supervisor.user.pk and exported.details["rows"] == 1
