"""The access matrix: every API route by every role, one table.

Each cell sends one request (in a savepoint rolled back afterwards, so cells do not
change each other's world) and checks the answer against the row's rule:

- a role in the row's ``allowed`` set gets a 2xx answer (the rows send valid bodies), or
  409 where the object's state refuses the act after access was granted;
- a credential that no longer works (revoked device, expired, rotated-away, none) gets
  401 ``not-authenticated``;
- a role of the wrong kind (a defector on a staff route, staff on a defector route) gets
  403 ``forbidden``;
- any other role gets a 404 byte-identical to the answer for an object that does not
  exist: a forbidden cell tells nothing a wrong id would not.

A method of a route under ``/api/v1/`` without a row fails ``test_every_route_has_a_row``;
the public routes (no caller to tell apart) are listed in ``PUBLIC`` with the answer a
caller without credentials gets."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from backend.accounts.models import Device, DeviceToken, StaffRole
from backend.administration.transfer_services import propose_transfer
from backend.cases.services import assign_backup, grant_alert_access, open_break_glass
from backend.checkins.models import Checkin
from backend.checkins.services import create_schedule
from backend.crisis.oncall_services import add_override, add_rotation
from backend.crisis.services import raise_alert
from backend.messaging.models import Conversation
from tests.factories import CaseFactory, DefectorDeviceSessionFactory, StaffDeviceSessionFactory

ROLES = [
    "defector",  # of the case
    "other_defector",  # of another case
    "primary",
    "backup",
    "other_contact",  # primary contact of another case
    "oncall_alert",  # on call, holding an alert on the case
    "oncall",  # on call, no alert
    "supervisor",
    "supervisor_break_glass",
    "foreign_supervisor",  # of another programme
    "admin",
    "revoked",
    "expired",
    "rotated",
    "anonymous",
]
DEFECTORS = {"defector", "other_defector"}
DEAD = {"revoked", "expired", "rotated", "anonymous"}
STAFF = set(ROLES) - DEFECTORS - DEAD
SIGNED_IN = DEFECTORS | STAFF
CASE_READERS = {"defector", "primary", "backup", "oncall_alert", "supervisor_break_glass"}
CASE_STAFF = CASE_READERS - {"defector"}
PROGRAMME_STAFF = STAFF - {"foreign_supervisor"}
SETTINGS_MANAGERS = {"supervisor", "supervisor_break_glass", "admin"}
PHRASE_READERS = PROGRAMME_STAFF - {"oncall", "oncall_alert"}
CONTACT_PERSONS = {"primary", "backup", "other_contact"}
# Staff accounts are an admin's; cases, transfers, working hours and alert limits a
# supervisor's (``policy.may_manage_staff``, ``policy.may_administer_cases``).
ADMINS = {"admin"}
SUPERVISORS = {"supervisor", "supervisor_break_glass"}
CASE_OPENERS = CONTACT_PERSONS | SETTINGS_MANAGERS
AUDIT_READERS = SETTINGS_MANAGERS
# Revoking a lost phone protects the defector: the device's owner and any staff who may
# act on the case (and its programme's supervisors and admins) may.
DEVICE_REVOKERS = {"defector", "primary", "backup", "oncall_alert", "supervisor", "supervisor_break_glass", "admin"}
MISSING = 10**9
ROTATION = {
    "name": "Weekdays",
    "start_date": "2030-01-01",
    "handoff_time": "08:00",
    "shift_days": 7,
    "timezone": "Europe/Stockholm",
}


def _rotation_body(ids: dict[str, Any]) -> dict[str, Any]:
    return {**ROTATION, "members": [ids["member"]]}


def _override_body(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "rotation": ids["rotation"],
        "user": ids["member"],
        "starts_at": "2030-01-01T08:00:00Z",
        "ends_at": "2030-01-01T20:00:00Z",
    }


@dataclass(frozen=True)
class Row:
    method: str
    route: str  # the URL pattern, as Django names it
    path: str  # formatted with the world's ids
    allowed: frozenset[str]
    # The body, or a function of the world's ids giving it (for bodies naming objects).
    body: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]] | None = None
    staff_only: bool = False
    defector_only: bool = False
    # Staff of the programme who lack the role get 403: the programme is no secret to them.
    programme_role: bool = False


def row(
    method: str,
    route: str,
    path: str,
    allowed: set[str],
    body: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    **kind: bool,
) -> Row:
    return Row(method, route, path, frozenset(allowed), body, **kind)


TABLE = [
    row("GET", "me", "/api/v1/me", SIGNED_IN),
    row("POST", "devices/<uuid:device_id>/revoke", "/api/v1/devices/{device}/revoke", DEVICE_REVOKERS, {}),
    row("GET", "cases", "/api/v1/cases", SIGNED_IN),
    row("GET", "cases/<int:case_id>", "/api/v1/cases/{case}", CASE_READERS),
    row(
        "POST",
        "cases/<int:case_id>/enrollment-codes",
        "/api/v1/cases/{case}/enrollment-codes",
        {"primary", "backup"},
        staff_only=True,
    ),
    row(
        "PUT",
        "cases/<int:case_id>/duress-phrase",
        "/api/v1/cases/{case}/duress-phrase",
        {"primary", "backup"},
        {"phrase": "Har du sett min blå mössa"},
        staff_only=True,
    ),
    row(
        "POST",
        "cases/<int:case_id>/break-glass",
        "/api/v1/cases/{case}/break-glass",
        {"supervisor", "supervisor_break_glass", "admin"},
        {"reason": "The contact person is away this week"},
        staff_only=True,
    ),
    row("GET", "cases/<int:case_id>/devices", "/api/v1/cases/{case}/devices", CASE_STAFF, staff_only=True),
    row("GET", "conversations", "/api/v1/conversations", SIGNED_IN),
    row(
        "GET",
        "conversations/<int:conversation_id>/messages",
        "/api/v1/conversations/{conversation}/messages",
        CASE_READERS,
    ),
    row(
        "POST",
        "conversations/<int:conversation_id>/messages",
        "/api/v1/conversations/{conversation}/messages",
        CASE_READERS,
        {"client_id": "6f1c1f7e-2f4e-4a57-9a53-2b8f6e0f6a11", "body": "hej"},
    ),
    row(
        "POST",
        "conversations/<int:conversation_id>/read",
        "/api/v1/conversations/{conversation}/read",
        CASE_READERS,
        {"up_to_seq": 0},
    ),
    row("GET", "alerts", "/api/v1/alerts", STAFF, staff_only=True),
    row("POST", "panic", "/api/v1/panic", DEFECTORS, {}, defector_only=True),
    row("GET", "alerts/<int:alert_id>", "/api/v1/alerts/{alert}", CASE_STAFF, staff_only=True),
    row("POST", "alerts/<int:alert_id>/ack", "/api/v1/alerts/{alert}/ack", CASE_STAFF, {}, staff_only=True),
    row(
        "POST",
        "alerts/<int:alert_id>/resolve",
        "/api/v1/alerts/{alert}/resolve",
        CASE_STAFF,
        {"note": "talked, safe"},
        staff_only=True,
    ),
    row(
        "GET",
        "programmes/<int:programme_id>/escalation-policy",
        "/api/v1/programmes/{programme}/escalation-policy",
        PROGRAMME_STAFF,
        staff_only=True,
    ),
    row(
        "GET",
        "programmes/<int:programme_id>/oncall",
        "/api/v1/programmes/{programme}/oncall",
        PROGRAMME_STAFF,
        staff_only=True,
    ),
    row(
        "POST",
        "programmes/<int:programme_id>/oncall/rotations",
        "/api/v1/programmes/{programme}/oncall/rotations",
        SETTINGS_MANAGERS,
        _rotation_body,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "POST",
        "programmes/<int:programme_id>/oncall/overrides",
        "/api/v1/programmes/{programme}/oncall/overrides",
        SETTINGS_MANAGERS,
        _override_body,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "GET",
        "programmes/<int:programme_id>/phrases",
        "/api/v1/programmes/{programme}/phrases",
        PHRASE_READERS,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "GET",
        "programmes/<int:programme_id>/phrases/history",
        "/api/v1/programmes/{programme}/phrases/history",
        PHRASE_READERS,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "DELETE",
        "programmes/<int:programme_id>/phrases/<int:phrase_id>",
        "/api/v1/programmes/{programme}/phrases/{phrase}",
        SETTINGS_MANAGERS,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "GET",
        "cases/<int:case_id>/checkin-schedules",
        "/api/v1/cases/{case}/checkin-schedules",
        CASE_STAFF,
        staff_only=True,
    ),
    row("GET", "cases/<int:case_id>/checkins", "/api/v1/cases/{case}/checkins", CASE_STAFF, staff_only=True),
    row(
        "POST",
        "checkin-schedules/<int:schedule_id>/pause",
        "/api/v1/checkin-schedules/{schedule}/pause",
        CASE_STAFF,
        {},
        staff_only=True,
    ),
    row(
        "POST",
        "checkin-schedules/<int:schedule_id>/resume",
        "/api/v1/checkin-schedules/{schedule}/resume",
        CASE_STAFF,
        {},
        staff_only=True,
    ),
    row("GET", "checkins/open", "/api/v1/checkins/open", DEFECTORS, defector_only=True),
    row(
        "POST",
        "checkins/<int:checkin_id>/respond",
        "/api/v1/checkins/{checkin}/respond",
        {"defector"},
        {"status": "ok"},
        defector_only=True,
    ),
    row(
        "POST",
        "checkins/<int:checkin_id>/extend",
        "/api/v1/checkins/{checkin}/extend",
        {"defector"},
        {"minutes": 30},
        defector_only=True,
    ),
    row("POST", "me/pin", "/api/v1/me/pin", DEFECTORS, {"pin": "1234"}, defector_only=True),
    row("POST", "me/duress-pin", "/api/v1/me/duress-pin", DEFECTORS, {"pin": "9876"}, defector_only=True),
    # --- the calling phone, the defector's next check-ins ---
    row("PUT", "me/device", "/api/v1/me/device", SIGNED_IN, {"name": "Telefon"}),
    row("GET", "me/checkins/upcoming", "/api/v1/me/checkins/upcoming", DEFECTORS, defector_only=True),
    # --- the other methods of routes above ---
    row(
        "POST",
        "cases/<int:case_id>/checkin-schedules",
        "/api/v1/cases/{case}/checkin-schedules",
        CASE_STAFF,
        {"rrule": "FREQ=DAILY", "timezone": "Europe/Stockholm", "window_minutes": 60, "grace_minutes": 15},
        staff_only=True,
    ),
    row(
        "PUT",
        "programmes/<int:programme_id>/escalation-policy",
        "/api/v1/programmes/{programme}/escalation-policy",
        SETTINGS_MANAGERS,
        {"steps": [{"action": "notify_contacts"}], "repeat": 1},
        staff_only=True,
        programme_role=True,
    ),
    row(
        "POST",
        "programmes/<int:programme_id>/phrases",
        "/api/v1/programmes/{programme}/phrases",
        SETTINGS_MANAGERS,
        {"phrase": "röda huset", "severity": "critical", "category": "located", "language": "sv"},
        staff_only=True,
        programme_role=True,
    ),
    # --- on-call rotations and overrides: any staff of the programme reads, managers change ---
    row(
        "GET",
        "programmes/<int:programme_id>/oncall/rotations",
        "/api/v1/programmes/{programme}/oncall/rotations",
        PROGRAMME_STAFF,
        staff_only=True,
    ),
    row(
        "GET",
        "programmes/<int:programme_id>/oncall/overrides",
        "/api/v1/programmes/{programme}/oncall/overrides",
        PROGRAMME_STAFF,
        staff_only=True,
    ),
    row(
        "PUT",
        "programmes/<int:programme_id>/oncall/rotations/<int:rotation_id>",
        "/api/v1/programmes/{programme}/oncall/rotations/{rotation}",
        SETTINGS_MANAGERS,
        _rotation_body,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "DELETE",
        "programmes/<int:programme_id>/oncall/rotations/<int:rotation_id>",
        "/api/v1/programmes/{programme}/oncall/rotations/{rotation}",
        SETTINGS_MANAGERS,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "PUT",
        "programmes/<int:programme_id>/oncall/overrides/<int:override_id>",
        "/api/v1/programmes/{programme}/oncall/overrides/{override}",
        SETTINGS_MANAGERS,
        _override_body,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "DELETE",
        "programmes/<int:programme_id>/oncall/overrides/<int:override_id>",
        "/api/v1/programmes/{programme}/oncall/overrides/{override}",
        SETTINGS_MANAGERS,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "GET",
        "programmes/<int:programme_id>/alert-limits",
        "/api/v1/programmes/{programme}/alert-limits",
        PROGRAMME_STAFF,
        staff_only=True,
    ),
    row(
        "PUT",
        "programmes/<int:programme_id>/alert-limits",
        "/api/v1/programmes/{programme}/alert-limits",
        SUPERVISORS,
        {"ack_timeout_minutes": 20, "unanswered_limit_minutes": 15},
        staff_only=True,
        programme_role=True,
    ),
    # --- staff accounts: the programme's admins ---
    row(
        "GET",
        "programmes/<int:programme_id>/staff",
        "/api/v1/programmes/{programme}/staff",
        ADMINS,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "POST",
        "programmes/<int:programme_id>/staff",
        "/api/v1/programmes/{programme}/staff",
        ADMINS,
        {"username": "new-nurse", "first_name": "Ny", "last_name": "Kollega", "roles": ["contact_person"]},
        staff_only=True,
        programme_role=True,
    ),
    row(
        "PUT",
        "programmes/<int:programme_id>/staff/<int:user_id>",
        "/api/v1/programmes/{programme}/staff/{member}",
        ADMINS,
        {"roles": ["on_call", "contact_person"]},
        staff_only=True,
        programme_role=True,
    ),
    row(
        "POST",
        "programmes/<int:programme_id>/staff/<int:user_id>/deactivate",
        "/api/v1/programmes/{programme}/staff/{member}/deactivate",
        ADMINS,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "POST",
        "programmes/<int:programme_id>/staff/<int:user_id>/reset-2fa",
        "/api/v1/programmes/{programme}/staff/{member}/reset-2fa",
        ADMINS,
        staff_only=True,
        programme_role=True,
    ),
    # --- working hours: the programme's supervisors ---
    row(
        "GET",
        "programmes/<int:programme_id>/staff/<int:user_id>/working-hours",
        "/api/v1/programmes/{programme}/staff/{member}/working-hours",
        SUPERVISORS,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "PUT",
        "programmes/<int:programme_id>/staff/<int:user_id>/working-hours",
        "/api/v1/programmes/{programme}/staff/{member}/working-hours",
        SUPERVISORS,
        {"weekdays": [1, 2, 3], "start": "08:00", "end": "16:00", "timezone": "Europe/Stockholm"},
        staff_only=True,
        programme_role=True,
    ),
    # --- cases: opened by contact persons, supervisors and admins; administered by supervisors ---
    row(
        "POST",
        "programmes/<int:programme_id>/cases",
        "/api/v1/programmes/{programme}/cases",
        CASE_OPENERS,
        lambda ids: {"alias": "Tranan", "primary_contact": ids["contact"]},
        staff_only=True,
        programme_role=True,
    ),
    row(
        "POST",
        "cases/<int:case_id>/assignments",
        "/api/v1/cases/{case}/assignments",
        SUPERVISORS,
        lambda ids: {"user": ids["member"], "role": "backup"},
        staff_only=True,
        programme_role=True,
    ),
    row(
        "DELETE",
        "cases/<int:case_id>/assignments/<int:user_id>",
        "/api/v1/cases/{case}/assignments/{assignee}",
        SUPERVISORS,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "POST",
        "cases/<int:case_id>/close",
        "/api/v1/cases/{case}/close",
        SUPERVISORS,
        {"note": "moved abroad"},
        staff_only=True,
        programme_role=True,
    ),
    row(
        "POST",
        "cases/<int:case_id>/shred",
        "/api/v1/cases/{case}/shred",
        SUPERVISORS,
        staff_only=True,
        programme_role=True,
    ),
    # --- transfers: proposed by the sending programme's supervisors, decided by the receiving one's ---
    row("GET", "programmes", "/api/v1/programmes", STAFF, staff_only=True),
    row(
        "POST",
        "cases/<int:case_id>/transfers",
        "/api/v1/cases/{case}/transfers",
        SUPERVISORS,
        lambda ids: {"to_programme": ids["foreign_programme"]},
        staff_only=True,
        programme_role=True,
    ),
    row("GET", "transfers", "/api/v1/transfers", STAFF, staff_only=True),
    row(
        "POST",
        "transfers/<int:transfer_id>/accept",
        "/api/v1/transfers/{transfer}/accept",
        SUPERVISORS,
        lambda ids: {"primary_contact": ids["contact"]},
        staff_only=True,
        programme_role=True,
    ),
    row(
        "POST",
        "transfers/<int:transfer_id>/decline",
        "/api/v1/transfers/{transfer}/decline",
        SUPERVISORS,
        {},
        staff_only=True,
        programme_role=True,
    ),
    # --- the audit trail: supervisors and admins ---
    row(
        "GET",
        "programmes/<int:programme_id>/audit",
        "/api/v1/programmes/{programme}/audit",
        AUDIT_READERS,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "GET",
        "programmes/<int:programme_id>/audit/verification",
        "/api/v1/programmes/{programme}/audit/verification",
        AUDIT_READERS,
        staff_only=True,
        programme_role=True,
    ),
    row(
        "GET",
        "programmes/<int:programme_id>/audit/export",
        "/api/v1/programmes/{programme}/audit/export",
        AUDIT_READERS,
        staff_only=True,
        programme_role=True,
    ),
]
# Routes with no caller to tell apart: anyone may call them, and the request proves itself.
# How each answers a caller without credentials: the reference pages, and the credential
# exchanges refusing an empty body as invalid input rather than as unauthenticated.
PUBLIC = {
    "schema/": ("GET", 200),
    "docs/": ("GET", 200),
    "enroll": ("POST", 400),
    "auth/refresh": ("POST", 400),
    "auth/staff-device": ("POST", 400),
}
PUBLIC_ROUTES = set(PUBLIC)


@pytest.fixture
def world(case, other_case, programme, contact, other_contact, oncall, supervisor, foreign_supervisor, make_staff):
    backup = make_staff("backup", programme, StaffRole.Role.CONTACT_PERSON)
    assign_backup(case=case, staff=backup.user, actor=contact.user)
    oncall_alert = make_staff("oncall-alert", programme, StaffRole.Role.ON_CALL)
    supervisor_bg = make_staff("supervisor-bg", programme, StaffRole.Role.SUPERVISOR)
    admin = make_staff("admin", programme, StaffRole.Role.ADMIN)
    with transaction.atomic():
        alert = raise_alert(case=case, kind="panic", severity="critical")
        grant_alert_access(case=case, staff=oncall_alert.user, alert_ref=f"alert:{alert.pk}", reason="holding")
    open_break_glass(case_id=case.pk, supervisor=supervisor_bg.user, reason="The contact person is on leave")
    schedule = create_schedule(
        case=case,
        actor=contact.user,
        rrule="FREQ=DAILY",
        at=None,
        dtstart=None,
        zone="Europe/Stockholm",
        window_minutes=60,
        grace_minutes=15,
        reminder_minutes=0,
    )
    now = timezone.now()
    checkin = Checkin.objects.create(
        schedule=schedule,
        case=case,
        due_at=now,
        closes_at=now + dt.timedelta(hours=1),
        grace_until=now + dt.timedelta(hours=2),
    )
    defector = DefectorDeviceSessionFactory(case=case)
    sessions = {
        "defector": defector,
        "other_defector": DefectorDeviceSessionFactory(case=other_case),
        "primary": StaffDeviceSessionFactory(user=contact.user),
        "backup": StaffDeviceSessionFactory(user=backup.user),
        "other_contact": StaffDeviceSessionFactory(user=other_contact.user),
        "oncall_alert": StaffDeviceSessionFactory(user=oncall_alert.user),
        "oncall": StaffDeviceSessionFactory(user=oncall.user),
        "supervisor": StaffDeviceSessionFactory(user=supervisor.user),
        "supervisor_break_glass": StaffDeviceSessionFactory(user=supervisor_bg.user),
        "foreign_supervisor": StaffDeviceSessionFactory(user=foreign_supervisor.user),
        "admin": StaffDeviceSessionFactory(user=admin.user),
        "revoked": DefectorDeviceSessionFactory(case=case),
        "expired": DefectorDeviceSessionFactory(case=case),
        "rotated": DefectorDeviceSessionFactory(case=case),
    }
    Device.objects.filter(pk=sessions["revoked"].device_id).update(revoked_at=now)
    DeviceToken.objects.filter(device_id=sessions["expired"].device_id).update(expires_at=now - dt.timedelta(seconds=1))
    from tests.accounts.test_tokens import refresh

    assert refresh(APIClient(), sessions["rotated"]).status_code == 200
    phrase = _client(sessions, "supervisor").post(
        f"/api/v1/programmes/{programme.pk}/phrases",
        {"phrase": "blå volvon", "severity": "critical", "category": "located", "language": "sv"},
        format="json",
    )
    assert phrase.status_code == 201, phrase.content
    rotation = add_rotation(
        programme=programme,
        actor=supervisor.user,
        name="Weekends",
        members=[oncall.user.pk],
        start_date=now.date(),
        handoff_time=dt.time(8),
        shift_days=7,
        timezone="Europe/Stockholm",
    )
    override = add_override(
        programme=programme,
        actor=supervisor.user,
        rotation=rotation.pk,
        user=oncall.user.pk,
        starts_at=now + dt.timedelta(days=1),
        ends_at=now + dt.timedelta(days=2),
    )
    foreign_programme = foreign_supervisor.user.staff_roles.get().programme
    # A case offered to this programme by another: its supervisors decide.
    incoming = propose_transfer(
        case=CaseFactory(programme=foreign_programme), actor=foreign_supervisor.user, to_programme=programme.pk
    )
    ids = {
        "phrase": phrase.json()["id"],
        "case": case.pk,
        "conversation": Conversation.objects.get(case=case).pk,
        "alert": alert.pk,
        "programme": programme.pk,
        "schedule": schedule.pk,
        "checkin": checkin.pk,
        "device": defector.device_id,
        "rotation": rotation.pk,
        "override": override.pk,
        "transfer": incoming.pk,
        "member": oncall.user.pk,  # a staff member of the programme, not on the case
        "assignee": backup.user.pk,  # a backup on the case
        "contact": contact.user.pk,
        "foreign_programme": foreign_programme.pk,
        "missing": MISSING,
    }
    return sessions, ids


def _client(sessions, role: str) -> APIClient:
    client = APIClient()
    if role != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {sessions[role].access_token}")
    return client


def _body(table_row: Row, ids: dict[str, Any]) -> str:
    body = table_row.body(ids) if callable(table_row.body) else table_row.body
    return "" if body is None else json.dumps(body)


def _send(client: APIClient, table_row: Row, path: str, body: str):
    with transaction.atomic():
        response = client.generic(table_row.method, path, body, content_type="application/json")
        transaction.set_rollback(True)
    return response


def _missing_path(table_row: Row, ids: dict[str, Any]) -> str | None:
    """The row's path with its objects swapped for ones that do not exist."""
    names = [
        name
        for name in (
            *("case", "conversation", "alert", "programme", "schedule", "checkin", "device"),
            *("rotation", "override", "transfer", "member", "assignee"),
        )
        if "{" + name + "}" in table_row.path
    ]
    if not names:
        return None
    swapped = {**ids, **{name: MISSING for name in names}}
    swapped["device"] = "00000000-0000-4000-8000-000000000000"
    return table_row.path.format(**swapped)


def _expected(table_row: Row, role: str) -> str:
    """What the row's rule says a role gets: allowed, 401, 403 or 404."""
    if role in table_row.allowed:
        return "allowed"
    if role in DEAD:
        return "401"
    wrong_kind = (table_row.staff_only and role in DEFECTORS) or (table_row.defector_only and role in STAFF)
    if wrong_kind or (table_row.programme_role and role in PROGRAMME_STAFF):
        return "403"
    return "404"


def _cell_is_right(expected: str, response, not_there) -> bool:
    if expected == "allowed":
        # Done, or refused for the object's state (a shred of an open case) after access passed.
        return 200 <= response.status_code < 300 or response.status_code == 409
    if expected != "404":
        return response.status_code == int(expected)
    # Forbidden looks exactly like missing.
    return response.status_code == 404 and (not_there is None or not_there.content == response.content)


def test_the_access_matrix(world):
    sessions, ids = world
    cells, wrong = 0, []
    for table_row in TABLE:
        path = table_row.path.format(**ids)
        body = _body(table_row, ids)
        missing = _missing_path(table_row, ids)
        not_there = None  # the answer for objects that do not exist: the same for every caller
        for role in ROLES:
            client = _client(sessions, role)
            response = _send(client, table_row, path, body)
            expected = _expected(table_row, role)
            if expected == "404" and missing is not None and not_there is None:
                not_there = _send(client, table_row, missing, body)
            cells += 1
            if not _cell_is_right(expected, response, not_there):
                wrong.append(
                    f"{table_row.method} {table_row.route} as {role}: expected {expected}, got "
                    f"{response.status_code} {response.content[:120]!r}"
                )
    assert not wrong, "\n".join(wrong)
    assert cells == len(TABLE) * len(ROLES)


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(PUBLIC))
def test_public_routes_answer_a_caller_without_credentials(route):
    method, status = PUBLIC[route]
    response = APIClient().generic(method, f"/api/v1/{route}", "{}", content_type="application/json")
    assert response.status_code == status, response.content[:200]


def _routes(patterns, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            found.append((prefix + str(pattern.pattern), pattern))
    return found


def _methods(pattern: URLPattern) -> set[str]:
    """The HTTP methods a route's view answers (OPTIONS and HEAD come with every view)."""
    view_class = pattern.callback.view_class  # type: ignore[attr-defined]
    return {
        name.upper()
        for name in view_class.http_method_names
        if name not in ("options", "head") and hasattr(view_class, name)
    }


def test_every_route_has_a_row():
    api = {
        route.removeprefix("api/v1/"): pattern
        for route, pattern in _routes(get_resolver().url_patterns)
        if route.startswith("api/v1/")
    }
    assert set(api) - PUBLIC_ROUTES - {table_row.route for table_row in TABLE} == set(), "a route without a row"
    assert PUBLIC_ROUTES - set(api) == set(), "a public route that no longer exists"
    served = {
        (method, route) for route, pattern in api.items() if route not in PUBLIC_ROUTES for method in _methods(pattern)
    }
    covered = {(table_row.method, table_row.route) for table_row in TABLE}
    assert served - covered == set(), "a method of a route without a row in the access matrix"
    assert covered - served == set(), "a row for a route or method that no longer exists"
    assert len(covered) == len(TABLE), "two rows for one method of a route"
