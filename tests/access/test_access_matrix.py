"""The access matrix: every API route by every role, one table.

Each cell sends one request (in a savepoint rolled back afterwards, so cells do not
change each other's world) and checks the answer against the row's rule:

- a role in the row's ``allowed`` set gets an answer that is not 401/403/404;
- a credential that no longer works (revoked device, expired, rotated-away, none) gets
  401 ``not-authenticated``;
- a role of the wrong kind (a defector on a staff route, staff on a defector route) gets
  403 ``forbidden``;
- any other role gets a 404 byte-identical to the answer for an object that does not
  exist: a forbidden cell tells nothing a wrong id would not.

A route under ``/api/v1/`` without a row fails ``test_every_route_has_a_row``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from backend.accounts.models import Device, DeviceToken, StaffRole
from backend.cases.services import assign_backup, grant_alert_access, open_break_glass
from backend.checkins.models import Checkin
from backend.checkins.services import create_schedule
from backend.crisis.services import raise_alert
from backend.messaging.models import Conversation
from tests.factories import DefectorDeviceSessionFactory, StaffDeviceSessionFactory

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
# Revoking a lost phone protects the defector: the device's owner and any staff who may
# act on the case (and its programme's supervisors and admins) may.
DEVICE_REVOKERS = {"defector", "primary", "backup", "oncall_alert", "supervisor", "supervisor_break_glass", "admin"}
MISSING = 10**9


@dataclass(frozen=True)
class Row:
    method: str
    route: str  # the URL pattern, as Django names it
    path: str  # formatted with the world's ids
    allowed: frozenset[str]
    body: dict[str, Any] | None = None
    staff_only: bool = False
    defector_only: bool = False
    # Staff of the programme who lack the role get 403: the programme is no secret to them.
    programme_role: bool = False


def row(method: str, route: str, path: str, allowed: set[str], body: dict[str, Any] | None = None, **kind: bool) -> Row:
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
        {},
        staff_only=True,
        programme_role=True,
    ),
    row(
        "POST",
        "programmes/<int:programme_id>/oncall/overrides",
        "/api/v1/programmes/{programme}/oncall/overrides",
        SETTINGS_MANAGERS,
        {},
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
]
# Routes with no caller to tell apart: anyone may call them, and the request proves itself.
PUBLIC_ROUTES = {"schema/", "enroll", "auth/refresh", "auth/staff-device"}


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
    ids = {
        "phrase": phrase.json()["id"],
        "case": case.pk,
        "conversation": Conversation.objects.get(case=case).pk,
        "alert": alert.pk,
        "programme": programme.pk,
        "schedule": schedule.pk,
        "checkin": checkin.pk,
        "device": defector.device_id,
        "missing": MISSING,
    }
    return sessions, ids


def _client(sessions, role: str) -> APIClient:
    client = APIClient()
    if role != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {sessions[role].access_token}")
    return client


def _send(client: APIClient, table_row: Row, path: str):
    with transaction.atomic():
        response = client.generic(
            table_row.method,
            path,
            "" if table_row.body is None else __import__("json").dumps(table_row.body),
            content_type="application/json",
        )
        transaction.set_rollback(True)
    return response


def _missing_path(table_row: Row, ids: dict[str, Any]) -> str | None:
    """The row's path with its objects swapped for ones that do not exist."""
    names = [
        name
        for name in ("case", "conversation", "alert", "programme", "schedule", "checkin", "device")
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
        return response.status_code not in (401, 403, 404)
    if expected != "404":
        return response.status_code == int(expected)
    # Forbidden looks exactly like missing.
    return response.status_code == 404 and (not_there is None or not_there.content == response.content)


def test_the_access_matrix(world):
    sessions, ids = world
    cells, wrong = 0, []
    for table_row in TABLE:
        path = table_row.path.format(**ids)
        missing = _missing_path(table_row, ids)
        for role in ROLES:
            client = _client(sessions, role)
            response = _send(client, table_row, path)
            expected = _expected(table_row, role)
            not_there = _send(client, table_row, missing) if expected == "404" and missing is not None else None
            cells += 1
            if not _cell_is_right(expected, response, not_there):
                wrong.append(
                    f"{table_row.method} {table_row.route} as {role}: expected {expected}, got "
                    f"{response.status_code} {response.content[:120]!r}"
                )
    assert not wrong, "\n".join(wrong)
    assert cells == len(TABLE) * len(ROLES)


def _routes(patterns, prefix: str = "") -> list[str]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            found.append(prefix + str(pattern.pattern))
    return found


def test_every_route_has_a_row():
    routes = {r.removeprefix("api/v1/") for r in _routes(get_resolver().url_patterns) if r.startswith("api/v1/")}
    covered = {table_row.route for table_row in TABLE} | PUBLIC_ROUTES
    assert routes - covered == set(), "a route without a row in the access matrix"
    assert covered - routes == set(), "a row for a route that no longer exists"
