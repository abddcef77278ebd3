"""The inbox's pages, rendered in-process: what each role sees, in which order, in which
language, and that every read and write goes through the same rules as the API. (The
live behaviour in a real browser is in tests/e2e/test_inbox_browser.py.)"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.accounts.models import Device
from backend.audit.models import AuditEntry
from backend.cases.models import CaseAssignment
from backend.checkins.models import Checkin, CheckinSchedule
from backend.crisis.engine import run_escalations
from backend.crisis.models import Alert
from backend.crisis.services import raise_alert
from backend.inbox.models import InboxPreference
from backend.messaging.models import Conversation
from backend.messaging.services import mark_read, send_message
from backend.vault.services import shred_case_key
from tests.factories import CaseFactory, DeviceFactory


def _say(case, user, text: str, *, at: dt.datetime | None = None):
    conversation = Conversation.objects.get(case=case)
    if at is None:
        return send_message(
            sender=user, sender_device=None, conversation=conversation, client_id=uuid.uuid4(), body=text
        )
    with time_machine.travel(at, tick=False):
        return send_message(
            sender=user, sender_device=None, conversation=conversation, client_id=uuid.uuid4(), body=text
        )


def _row_case_ids(html: str) -> list[int]:
    return [int(case_id) for case_id in re.findall(r'data-testid="queue-row" data-case-id="(\d+)"', html)]


def _comparable(page: bytes, case_id: int) -> str:
    """A page without what differs on every render (the masked CSRF token) or names the
    path asked for."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page.decode())
    return text.replace(f"/inbox/cases/{case_id}/", "/inbox/cases/ID/")


def test_the_bare_address_leads_to_the_inbox(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/inbox/"


def test_the_queue_orders_alerts_by_severity_then_waiting_messages_then_the_rest(programme, contact, as_staff):
    quiet_old, quiet_recent, waiting_long, waiting_short, high, critical = (
        CaseFactory(programme=programme, primary_contact=contact.user, alias=alias)
        for alias in ("Lugn", "Nyss", "Väntar länge", "Väntar kort", "Hög", "Kritisk")
    )
    now = timezone.now()
    _say(quiet_old, contact.user, "Hej", at=now - dt.timedelta(days=3))
    _say(quiet_recent, contact.user, "Hej igen", at=now - dt.timedelta(hours=1))
    _say(waiting_short, waiting_short.defector.user, "Hallå?", at=now - dt.timedelta(minutes=5))
    _say(waiting_long, waiting_long.defector.user, "Är du där?", at=now - dt.timedelta(minutes=50))
    raise_alert(case=high, kind=Alert.Kind.MISSED_CHECKIN, severity="high")
    raise_alert(case=critical, kind=Alert.Kind.PANIC, severity="critical")

    html = as_staff(contact).get("/inbox/").content.decode()

    assert _row_case_ids(html) == [c.pk for c in (critical, high, waiting_long, waiting_short, quiet_recent, quiet_old)]
    assert "för 50 min sedan" in html and "Panikknapp" in html and "Kritisk" in html


def test_a_queue_row_shows_unread_count_check_in_and_primary_contact(case, contact, as_staff):
    contact.user.first_name, contact.user.last_name = "Kim", "Berg"
    contact.user.save()
    for text in ("ett", "två"):
        _say(case, case.defector.user, text)
    client = as_staff(contact)
    client.post(
        f"/inbox/cases/{case.pk}/checkins/",
        {"repeat": "daily", "time": "21:00", "window_minutes": 60, "grace_minutes": 15, "reminder_minutes": 10},
    )
    row = client.get("/inbox/queue-rows/").content.decode()
    assert 'aria-label="2 olästa meddelanden">2<' in row
    assert "Kim Berg" in row
    schedule = CheckinSchedule.objects.get(case=case)
    assert timezone.localtime(schedule.next_due_at).strftime("%Y-%m-%d %H:%M") in row or "21:00" in row

    mark_read(user=contact.user, conversation=Conversation.objects.get(case=case), up_to_seq=2)
    assert 'class="count"' not in client.get("/inbox/queue-rows/").content.decode()


def test_staff_see_only_their_cases_and_another_case_looks_unknown(case, other_case, contact, as_staff):
    client = as_staff(contact)
    assert _row_case_ids(client.get("/inbox/").content.decode()) == [case.pk]
    theirs = client.get(f"/inbox/cases/{other_case.pk}/")
    unknown = client.get("/inbox/cases/999999/")
    assert theirs.status_code == unknown.status_code == 404
    assert _comparable(theirs.content, other_case.pk) == _comparable(unknown.content, 999999)
    assert client.get(f"/inbox/cases/{other_case.pk}/messages/?before_seq=1").status_code == 404
    assert client.get(f"/inbox/cases/{other_case.pk}/checkins/").status_code == 404


def test_the_conversation_shows_history_in_order_and_audits_the_read(case, contact, as_staff):
    for n in range(1, 4):
        _say(case, case.defector.user if n == 1 else contact.user, f"meddelande {n}")
    mark_read(user=case.defector.user, conversation=Conversation.objects.get(case=case), up_to_seq=2)

    client = as_staff(contact)
    before = AuditEntry.objects.count()
    html = client.get(f"/inbox/cases/{case.pk}/").content.decode()

    assert re.findall(r'data-seq="(\d+)"', html) == ["1", "2", "3"]
    assert html.index("meddelande 1") < html.index("meddelande 2") < html.index("meddelande 3")
    assert 'data-defector-read-seq="2"' in html
    # The two reads the API would audit, each entry as the API writes it.
    conversation = Conversation.objects.get(case=case)
    entries = AuditEntry.objects.filter(seq__gt=before).order_by("seq")
    assert [(e.actor_id, e.action, e.case_id, e.target, e.details) for e in entries] == [
        (contact.user.pk, "case.read", case.pk, f"case:{case.pk}", {}),
        (contact.user.pk, "messages.read", case.pk, f"conversation:{conversation.pk}", {"from_seq": 1, "to_seq": 3}),
    ]


def test_older_messages_come_a_page_at_a_time(case, contact, as_staff):
    conversation = Conversation.objects.get(case=case)
    for n in range(1, 61):
        send_message(
            sender=case.defector.user,
            sender_device=None,
            conversation=conversation,
            client_id=uuid.uuid4(),
            body=f"m{n}",
        )
    client = as_staff(contact)
    first_page = client.get(f"/inbox/cases/{case.pk}/").content.decode()
    assert re.findall(r'data-seq="(\d+)"', first_page) == [str(n) for n in range(11, 61)]
    assert 'data-older-before="11"' in first_page

    older = client.get(f"/inbox/cases/{case.pk}/messages/?before_seq=11").content.decode()
    assert re.findall(r'data-seq="(\d+)"', older) == [str(n) for n in range(1, 11)]
    assert "data-older-before" not in older
    assert client.get(f"/inbox/cases/{case.pk}/messages/?before_seq=abc").status_code == 400


def test_a_notified_on_call_worker_sees_the_alert_then_the_case_after_acknowledging(
    case, oncall, rotation, phone_of, as_staff
):
    phone_of(oncall)
    alert = raise_alert(case=case, kind=Alert.Kind.PANIC, severity="critical")
    run_escalations()
    client = as_staff(oncall)

    alerts = client.get("/inbox/alerts/").content.decode()
    assert f'data-alert-id="{alert.pk}"' in alerts
    assert "Kvittera larmet för att öppna ärendet." in alerts
    assert client.get(f"/inbox/cases/{case.pk}/").status_code == 404

    acked = client.post(f"/inbox/alerts/{alert.pk}/ack", {"note": "ringer", "next": "/inbox/alerts/"})
    assert acked.status_code == 302
    assert client.get(f"/inbox/cases/{case.pk}/").status_code == 200

    refused = client.post(f"/inbox/alerts/{alert.pk}/resolve", {"note": "  "})
    assert refused.status_code == 400
    client.post(f"/inbox/alerts/{alert.pk}/resolve", {"note": "Trygg hos polisen."})
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED and alert.resolution_note == "Trygg hos polisen."
    assert client.get(f"/inbox/cases/{case.pk}/").status_code == 404  # the grant ended
    queue = client.get("/inbox/alerts/").content.decode()
    # Out of the queue, into "resolved in the last 24 hours", with its note on the timeline.
    assert f'data-alert-id="{alert.pk}" data-state="resolved"' in queue
    assert f'data-alert-id="{alert.pk}" data-state="open"' not in queue
    assert "Löst (oncall): “Trygg hos polisen.”" in queue


def test_an_alert_of_someone_elses_case_cannot_be_acknowledged(case, other_contact, as_staff):
    alert = raise_alert(case=case, kind=Alert.Kind.PANIC, severity="critical")
    response = as_staff(other_contact).post(f"/inbox/alerts/{alert.pk}/ack", {})
    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN


def test_the_alert_queue_says_who_is_on_call_and_where_coverage_is_missing(case, contact, oncall, rotation, as_staff):
    oncall.user.first_name = "Alex"
    oncall.user.save()
    html = as_staff(contact).get("/inbox/alerts/").content.decode()
    assert "Alex har jour nu." in html
    rotation.delete()
    html = as_staff(contact).get("/inbox/alerts/").content.decode()
    assert "Ingen har jour just nu." in html and "Ingen har jour från" in html


def test_schedules_are_made_from_a_form_not_rrule(case, contact, as_staff):
    client = as_staff(contact)
    weekly = {
        "repeat": "weekdays",
        "time": "09:30",
        "weekdays": ["MO", "TH"],
        "window_minutes": 60,
        "grace_minutes": 15,
        "reminder_minutes": 10,
    }
    assert client.post(f"/inbox/cases/{case.pk}/checkins/", weekly).status_code == 302
    schedule = CheckinSchedule.objects.get(case=case)
    assert schedule.rrule == "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=30;BYSECOND=0"
    assert schedule.timezone == "Europe/Stockholm"
    page = client.get(f"/inbox/cases/{case.pk}/checkins/").content.decode()
    assert "måndag, torsdag kl. 09:30" in page

    no_days = client.post(f"/inbox/cases/{case.pk}/checkins/", {**weekly, "weekdays": []})
    assert no_days.status_code == 400 and "Välj minst en veckodag." in no_days.content.decode()
    past = client.post(f"/inbox/cases/{case.pk}/checkins/", {**weekly, "repeat": "once", "date": "2020-01-01"})
    assert past.status_code == 400 and CheckinSchedule.objects.filter(case=case).count() == 1

    client.post(f"/inbox/checkin-schedules/{schedule.pk}/pause")
    schedule.refresh_from_db()
    assert schedule.paused
    client.post(f"/inbox/checkin-schedules/{schedule.pk}/resume")
    schedule.refresh_from_db()
    assert not schedule.paused and schedule.next_due_at is not None


def test_a_one_off_check_in_is_in_the_inbox_time_zone(case, contact, as_staff):
    tomorrow = (timezone.localtime(timezone.now()) + dt.timedelta(days=1)).date()
    form = {"repeat": "once", "time": "10:00", "date": tomorrow.isoformat(), "window_minutes": 30}
    as_staff(contact).post(f"/inbox/cases/{case.pk}/checkins/", {**form, "grace_minutes": 0, "reminder_minutes": 0})
    schedule = CheckinSchedule.objects.get(case=case)
    assert schedule.rrule == ""
    local = timezone.localtime(schedule.next_due_at, dt.timezone(dt.timedelta(0)))
    stockholm = schedule.next_due_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Stockholm"))
    assert (stockholm.date(), stockholm.hour, stockholm.minute) == (tomorrow, 10, 0), local


def test_revoking_a_device_asks_first_then_revokes(case, contact, other_contact, as_staff):
    device = DeviceFactory(user=case.defector.user)
    assert as_staff(other_contact).get(f"/inbox/devices/{device.pk}/revoke").status_code == 404
    client = as_staff(contact)
    confirm = client.get(f"/inbox/devices/{device.pk}/revoke")
    assert confirm.status_code == 200
    device.refresh_from_db()
    assert device.revoked_at is None  # asking changes nothing
    assert client.post(f"/inbox/devices/{device.pk}/revoke", {"reason": "borttappad"}).status_code == 302
    assert Device.objects.get(pk=device.pk).revoked_at is not None


def test_swedish_by_default_and_english_is_remembered_for_the_staff_member(case, contact, as_staff):
    client = as_staff(contact)
    assert '<html lang="sv">' in client.get("/inbox/").content.decode()
    switched = client.post("/inbox/language/", {"language": "en", "next": "/inbox/alerts/"})
    assert switched.status_code == 302 and switched["Location"] == "/inbox/alerts/"
    assert InboxPreference.objects.get(user=contact.user).language == "en"
    assert "Work queue" in as_staff(contact).get("/inbox/").content.decode()  # a new session, same choice
    assert client.post("/inbox/language/", {"language": "xx"}).status_code == 302
    assert InboxPreference.objects.get(user=contact.user).language == "en"
    evil = client.post("/inbox/language/", {"language": "sv", "next": "https://evil.example/"})
    assert evil["Location"] == "/inbox/"


def test_the_api_stays_english_whatever_the_inbox_language(case, contact, as_staff):
    client = as_staff(contact)
    client.post("/inbox/language/", {"language": "sv"})
    problem = client.get("/api/v1/cases/999999").json()
    assert problem["detail"].startswith("No such")


def test_inbox_pages_carry_a_strict_policy_and_no_inline_code(case, contact, as_staff):
    response = as_staff(contact).get(f"/inbox/cases/{case.pk}/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    html = response.content.decode()
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", html)
    api = as_staff(contact).get("/api/v1/cases")
    directives = sorted(d.strip() for d in api["Content-Security-Policy"].split(";"))
    assert directives == ["default-src 'none'", "frame-ancestors 'none'"]


def test_an_enrollment_code_page_is_never_cached(case, contact, as_staff):
    response = as_staff(contact).post(f"/inbox/cases/{case.pk}/enrollment-code")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert re.search(
        r'id="enrollment-code" class="code">[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}<', response.content.decode()
    )


def test_a_crisis_language_alert_says_why_without_the_words(case, contact, as_staff):
    from backend.crisis.services import AlertTrigger, raise_alerts

    raise_alerts(
        [
            AlertTrigger(
                case=case,
                kind=Alert.Kind.KEYWORD,
                severity="high",
                categories=("threat",),
                reasons=(("threat", "threat_family"),),
            )
        ]
    )
    html = as_staff(contact).get("/inbox/alerts/").content.decode()
    assert "Varför: hot (threat_family)" in html


def test_names_in_the_queue_are_text_not_markup(programme, contact, as_staff):
    contact.user.first_name = '<img src=x onerror="alert(1)">'
    contact.user.save()
    case = CaseFactory(programme=programme, primary_contact=contact.user, alias='"><script>alert(1)</script>')
    html = as_staff(contact).get("/inbox/queue-rows/").content.decode()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and f'data-case-id="{case.pk}"' in html


def test_messages_and_names_in_a_conversation_are_text_not_markup(case, contact, as_staff):
    contact.user.first_name = '<img src=x onerror="alert(1)">'
    contact.user.save()
    for n in range(1, 56):
        _say(case, contact.user if n % 2 else case.defector.user, f"<script>alert({n})</script>")
    mark_read(user=case.defector.user, conversation=Conversation.objects.get(case=case), up_to_seq=54)
    client = as_staff(contact)

    pages = {
        55: client.get(f"/inbox/cases/{case.pk}/").content.decode(),  # the newest 50: 6 to 55
        5: client.get(f"/inbox/cases/{case.pk}/messages/?before_seq=6").content.decode(),  # 1 to 5
    }
    for seq, html in pages.items():
        assert "<script>" not in html and "<img" not in html
        assert f"&lt;script&gt;alert({seq})&lt;/script&gt;" in html
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    shown = {
        int(seq): (side, inner)
        for seq, side, inner in re.findall(
            r'<li [^>]*data-seq="(\d+)"[^>]*class="message ([\w-]+)">(.*?)</li>', pages[55], re.S
        )
    }
    # The defector has read up to 54: staff message 53 says so, 55 not yet; theirs have no receipt.
    assert shown[53][0] == shown[55][0] == "from-staff" and shown[54][0] == "from-defector"
    assert '<span class="receipt">Läst</span>' in shown[53][1]
    assert '<span class="receipt"></span>' in shown[55][1]
    assert "receipt" not in shown[54][1]


def test_an_erased_conversation_says_so_on_each_message(case, contact, as_staff):
    _say(case, case.defector.user, "Hej")
    shred_case_key(case=case, actor=None)
    html = as_staff(contact).get(f"/inbox/cases/{case.pk}/").content.decode()
    assert '<p class="body"><em>(innehållet raderat)</em></p>' in html and "Hej" not in html


def _queries_for(client, path: str) -> int:
    client.get(path)  # anything a first visit does once (the session) is not counted
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_the_queue_reads_the_same_number_of_times_for_2_cases_or_20(programme, contact, oncall, as_staff, settings):
    """A bounded page, not a timing: the queue's queries do not grow with its cases, their
    messages, alerts or check-ins (bench/inbox_bench.py measures the time)."""
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 10**6  # a signed checkpoint is one more insert
    client = as_staff(contact)
    for _ in range(2):
        CaseFactory(programme=programme, primary_contact=contact.user)
    few = _queries_for(client, "/inbox/")
    now = timezone.now()
    for n in range(18):
        case = CaseFactory(programme=programme, primary_contact=contact.user)
        _say(case, case.defector.user, "Hej")
        if n % 3 == 0:
            raise_alert(case=case, kind=Alert.Kind.MISSED_CHECKIN, severity="high")
        if n % 4 == 0:
            schedule = CheckinSchedule.objects.create(
                case=case,
                rrule="FREQ=DAILY",
                dtstart=now,
                timezone="Europe/Stockholm",
                window_minutes=60,
                grace_minutes=15,
                next_due_at=now + dt.timedelta(hours=n),
                created_by=contact.user,
            )
            for day in range(3):
                due = now - dt.timedelta(days=day)
                Checkin.objects.create(
                    schedule=schedule,
                    case=case,
                    due_at=due,
                    closes_at=due + dt.timedelta(hours=1),
                    grace_until=due + dt.timedelta(hours=2),
                    status="missed" if day else "open",
                )
    many = _queries_for(client, "/inbox/")
    assert len(_row_case_ids(client.get("/inbox/").content.decode())) == 20
    assert many == few <= 10
    assert _queries_for(client, "/inbox/queue-rows/") < few  # the fragment does not ask about the phone


def test_a_conversation_reads_the_same_number_of_times_for_3_messages_or_300(
    case, contact, other_contact, as_staff, settings
):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 10**6
    client = as_staff(contact)
    for text in ("ett", "två", "tre"):
        _say(case, case.defector.user, text)
    few = _queries_for(client, f"/inbox/cases/{case.pk}/")
    CaseAssignment.objects.create(case=case, staff=other_contact.user, role=CaseAssignment.Role.BACKUP)
    for n in range(297):
        _say(case, (case.defector.user, contact.user, other_contact.user)[n % 3], f"m{n}")
    many = _queries_for(client, f"/inbox/cases/{case.pk}/")
    assert many == few <= 23


def test_the_alert_queue_reads_the_same_number_of_times_for_2_alerts_or_12(
    programme, contact, phone_of, as_staff, settings
):
    """Each card's timeline (events, push attempts, pushes waiting) is read for all cards
    at once, not per card."""
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 10**6
    phone_of(contact)
    client = as_staff(contact)

    def raise_alerts(count: int) -> None:
        for _ in range(count):
            case = CaseFactory(programme=programme, primary_contact=contact.user)
            raise_alert(case=case, kind=Alert.Kind.PANIC, severity="critical")
        run_escalations()  # notifies the contact person: pushes queued on their phone

    raise_alerts(2)
    few = _queries_for(client, "/inbox/alerts/")
    raise_alerts(10)
    many = _queries_for(client, "/inbox/alerts/")
    page = client.get("/inbox/alerts/").content.decode()
    assert page.count('data-testid="alert-row"') == 12
    assert page.count("Push i kö") >= 12  # every card shows its own queued push
    assert many == few
