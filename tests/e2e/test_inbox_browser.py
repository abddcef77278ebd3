"""The inbox in a real browser: Debian's Chromium driven by Playwright, against a real
``manage.py serve`` (Daphne and the worker) on the embedded default, with the defector's
app played by the Python client over its own real socket.

Screenshots of every main page at 1280 by 800 and 390 by 844 are saved in ``var/screenshots/``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from client.device import LivlinaClient
from tests.e2e.app_socket import AppSocket
from tests.e2e.browser import (
    AXE,
    DESKTOP,
    PHONE,
    axe_violations,
    log_in,
    needs,
    shoot,
    staff_api,
    wait_connected,
)
from tests.e2e.live_server import ROOT
from tests.e2e.network import CuttableProxy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(server):
    """The defector's app, enrolled with the demo code: its HTTP client, its session, its
    conversation id and its live socket."""
    http = LivlinaClient(server.base_url)
    session = http.enroll(server.demo["case"]["enrollment_code"])
    conversation = http.get(session, "/api/v1/conversations").json()[0]["id"]
    socket = AppSocket(server.base_url.replace("http", "ws", 1) + "/ws/v1/", session.access_token)
    yield http, session, conversation, socket
    socket.close()
    http.close()


def test_login_then_a_message_arrives_live_and_the_reply_reaches_the_app(chromium, server, app, authenticator):
    _http, _session, conversation, app_socket = app
    staff = server.demo["staff"]["contact_person"]
    case_id = server.demo["case"]["id"]
    context = chromium.new_context(viewport=DESKTOP, base_url=server.base_url, locale="sv-SE")
    page = context.new_page()
    page.goto("/")
    assert "/inbox/login/" in page.url
    page.fill("input[name=username]", staff["username"])
    page.fill("input[name=password]", staff["password"])
    page.fill("input[name=otp]", "000000")
    page.click("main button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "Fel användarnamn, lösenord eller engångskod."
    page.wait_for_timeout(1100)  # django-otp throttles a device for 1 s after a failure
    page.fill("input[name=password]", staff["password"])
    page.fill("input[name=otp]", authenticator.code(staff))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server.base_url}/inbox/")
    assert page.get_by_role("heading", name="Arbetskö").is_visible()
    wait_connected(page)
    assert page.get_by_test_id("connection-state").inner_text() == "Ansluten"

    app_socket.send_message(conversation, "Jag behöver prata med dig")
    row = page.locator(f"[data-testid=queue-row][data-case-id='{case_id}']")
    row.locator(".count").filter(has_text="1").wait_for()  # live, no reload
    assert "för" in row.inner_text() or "just nu" in row.inner_text()
    shoot(page, "queue")

    row.get_by_role("link").click()
    page.wait_for_url(f"{server.base_url}/inbox/cases/{case_id}/")
    wait_connected(page)
    first = page.get_by_test_id("conversation-message").filter(has_text="Jag behöver prata med dig")
    assert first.get_attribute("data-seq") == "1"
    app_socket.send_message(conversation, "Är du där?")
    page.get_by_test_id("conversation-message").filter(has_text="Är du där?").wait_for()

    page.get_by_test_id("reply-input").fill("Ja, jag är här. Ring mig när du kan.")
    page.get_by_test_id("reply-send").click()
    reply = page.get_by_test_id("conversation-message").filter(has_text="Ja, jag är här.")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=conversation-message]')]"
        ".some(el => el.textContent.includes('Ja, jag är här.') && el.dataset.seq)"
    )
    seq = int(reply.get_attribute("data-seq"))
    frame = app_socket.wait_for(lambda f: f["type"] == "message.new" and f["message"]["seq"] == seq)
    assert frame["message"]["body"] == "Ja, jag är här. Ring mig när du kan."
    assert reply.locator(".receipt").inner_text() == "Skickat"

    app_socket.send_frame({"type": "read", "conversation": conversation, "up_to_seq": seq})
    reply.locator(".receipt").filter(has_text="Läst").wait_for()
    # Seen in the open conversation, so the read marker moved: nothing unread in the queue.
    page.goto("/inbox/")
    row = page.locator(f"[data-testid=queue-row][data-case-id='{case_id}']")
    assert row.locator(".count").count() == 0
    context.close()


def test_after_a_network_drop_the_inbox_resumes_and_shows_each_message_once(chromium, server, app, authenticator):
    http, session, conversation, app_socket = app
    staff = server.demo["staff"]["contact_person"]
    case_id = server.demo["case"]["id"]
    proxy = CuttableProxy(int(server.base_url.rsplit(":", 1)[1]))
    try:
        context, page = log_in(chromium, proxy.base_url, staff, authenticator)
        page.goto(f"/inbox/cases/{case_id}/")
        wait_connected(page)

        proxy.cut()
        page.wait_for_selector("[data-testid=connection-state][data-state=reconnecting]")
        assert page.get_by_test_id("connection-state").inner_text() == "Återansluter …"
        app_socket.send_message(conversation, "Skrivet medan du var borta 1")
        app_socket.send_message(conversation, "Skrivet medan du var borta 2")
        page.get_by_test_id("reply-input").fill("Svar skrivet utan nät")
        page.get_by_test_id("reply-send").click()
        pending = page.get_by_test_id("conversation-message").filter(has_text="Svar skrivet utan nät")
        assert pending.locator(".receipt").inner_text() == "Skickas …"

        proxy.restore()
        wait_connected(page)
        for text in ("Skrivet medan du var borta 1", "Skrivet medan du var borta 2"):
            page.get_by_test_id("conversation-message").filter(has_text=text).wait_for()
        pending.locator(".receipt").filter(has_text="Skickat").wait_for()
        page.wait_for_timeout(1500)  # let any duplicate (a re-sent frame, a second sync) arrive
        for text in ("Skrivet medan du var borta 1", "Skrivet medan du var borta 2", "Svar skrivet utan nät"):
            assert page.get_by_test_id("conversation-message").filter(has_text=text).count() == 1, text
        seqs = page.locator("[data-testid=conversation-message]").evaluate_all("els => els.map(e => e.dataset.seq)")
        assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs, key=int)
        stored = http.get(session, f"/api/v1/conversations/{conversation}/messages", limit=200).json()["results"]
        assert [m["body"] for m in stored].count("Svar skrivet utan nät") == 1
        context.close()
    finally:
        proxy.close()


def _make_overdue_checkin(server, case_id: int) -> None:
    """A check-in whose window and grace have passed unanswered (made in the database:
    a real one would take at least 5 minutes to miss). The worker's sweep does the rest."""
    code = f"""
import datetime as dt
from django.utils import timezone
from backend.checkins.models import Checkin, CheckinSchedule
from backend.accounts.models import User
now = timezone.now()
staff = User.objects.get(username="{server.demo["staff"]["contact_person"]["username"]}")
schedule = CheckinSchedule.objects.create(case_id={case_id}, rrule="", dtstart=now - dt.timedelta(minutes=30),
    timezone="Europe/Stockholm", window_minutes=10, grace_minutes=5, reminder_minutes=0, created_by=staff)
Checkin.objects.create(schedule=schedule, case_id={case_id}, due_at=now - dt.timedelta(minutes=30),
    closes_at=now - dt.timedelta(minutes=20), grace_until=now - dt.timedelta(seconds=1))
"""
    result = server.manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr


def fill_while_live(field, text: str) -> None:
    """Fill a field of rows the page refreshes live. A refresh that lands between
    Playwright finding the field and typing into it replaces the row, and the text goes
    to the old one; once the text is in the live field the page keeps it (it never
    refreshes over a note being written)."""
    for _attempt in range(5):
        field.fill(text)
        if field.input_value() == text:
            return
    raise AssertionError(f"the field never kept {text!r}")


def test_a_missed_checkin_alert_appears_live_and_is_acknowledged_then_resolved(chromium, server, app, authenticator):
    staff = server.demo["staff"]["contact_person"]
    case_id = server.demo["case"]["id"]
    context, page = log_in(chromium, server.base_url, staff, authenticator)
    page.goto("/inbox/alerts/")
    wait_connected(page)

    _make_overdue_checkin(server, case_id)
    row = page.locator("[data-testid=alert-row]").filter(has_text="Missad incheckning")
    row.wait_for(timeout=15000)  # raised by the worker, shown live
    alert_id = row.get_attribute("data-alert-id")
    shoot(page, "alerts")

    fill_while_live(row.locator("input[name=note]").first, "Ringer upp nu")
    row.get_by_test_id("alert-ack").click()
    row = page.locator(f"[data-testid=alert-row][data-alert-id='{alert_id}'][data-state=acknowledged]")
    row.wait_for()
    wait_connected(page)
    fill_while_live(row.get_by_test_id("resolve-note"), "Telefonen var urladdad, allt är bra.")
    row.get_by_test_id("alert-resolve").click()
    page.wait_for_url(f"{server.base_url}/inbox/alerts/")
    assert page.locator(f"[data-testid=alert-row][data-alert-id='{alert_id}'][data-state=open]").count() == 0

    wait_connected(page)
    resolved = page.locator(f"[data-alert-id='{alert_id}'][data-state=resolved]")
    timeline = " ".join(resolved.locator(".timeline").text_content().split())
    assert re.search(r"Kvitterat \(.+\): “Ringer upp nu”", timeline), timeline
    assert re.search(r"Löst \(.+\): “Telefonen var urladdad, allt är bra.”", timeline), timeline
    context.close()


def test_the_on_call_worker_sees_a_notified_alert_and_opens_the_case_only_after_acknowledging(
    chromium, server, app, authenticator
):
    http, session, _conversation, _app_socket = app
    case_id = server.demo["case"]["id"]
    programme_id = server.demo["programme"]["id"]
    on_call = server.demo["staff"]["on_call"]
    supervisor = staff_api(server.base_url, server.demo["staff"]["supervisor"], authenticator)
    policy = {"steps": [{"action": "notify_on_call"}, {"action": "wait", "minutes": 5}], "repeat": 1}
    assert supervisor.put(f"/api/v1/programmes/{programme_id}/escalation-policy", json=policy).status_code == 200
    rotation = {
        "name": "Jour (test)",
        "members": [on_call["user_id"]],
        "start_date": "2026-01-01",
        "handoff_time": "08:00",
        "shift_days": 7,
        "timezone": "Europe/Stockholm",
    }
    assert supervisor.post(f"/api/v1/programmes/{programme_id}/oncall/rotations", json=rotation).status_code == 201
    supervisor.close()

    context, page = log_in(chromium, server.base_url, on_call, authenticator)
    context.grant_permissions(["notifications"])
    page.goto("/inbox/alerts/")
    wait_connected(page)
    unknown = page.goto("/inbox/cases/999999/")
    unknown_text = page.locator("main").inner_text()
    assert unknown.status == 404
    page.goto("/inbox/alerts/")
    wait_connected(page)

    assert http.post(session, "/api/v1/panic", {}).status_code == 202
    row = page.locator("[data-testid=alert-row]").filter(has_text="Panikknapp")
    row.wait_for(timeout=15000)
    assert page.locator("#alert-banner").is_visible()  # critical: a banner (and a sound, a notification)
    assert "Kvittera larmet för att öppna ärendet." in row.inner_text()

    refused = page.goto(f"/inbox/cases/{case_id}/")
    assert refused.status == 404 and page.locator("main").inner_text() == unknown_text

    page.goto("/inbox/alerts/")
    page.locator("[data-testid=alert-row]").filter(has_text="Panikknapp").get_by_test_id("alert-ack").click()
    opened = page.goto(f"/inbox/cases/{case_id}/")
    assert opened.status == 200
    assert page.get_by_role("heading", name=server.demo["case"]["alias"]).is_visible()
    assert page.get_by_test_id("reply-input").is_visible()
    context.close()


def test_switching_to_english_and_back_is_remembered(chromium, server, app, authenticator):
    staff = server.demo["staff"]["supervisor"]
    context, page = log_in(chromium, server.base_url, staff, authenticator)
    assert page.get_by_role("heading", name="Arbetskö").is_visible()
    page.get_by_test_id("language-switch").click()
    page.get_by_role("heading", name="Work queue").wait_for()
    page.reload()
    assert page.get_by_role("heading", name="Work queue").is_visible()
    wait_connected(page)
    assert page.get_by_test_id("connection-state").inner_text() == "Connected"
    page.get_by_test_id("language-switch").click()
    page.get_by_role("heading", name="Arbetskö").wait_for()
    context.close()


def test_a_schedule_is_made_with_the_form(chromium, server, app, authenticator):
    staff = server.demo["staff"]["contact_person"]
    case_id = server.demo["case"]["id"]
    context, page = log_in(chromium, server.base_url, staff, authenticator)
    page.goto(f"/inbox/cases/{case_id}/checkins/")
    page.get_by_label("Varje dag").check()
    page.get_by_label("Klockslag").fill("21:00")
    page.get_by_role("button", name="Skapa schema").click()
    page.get_by_role("cell", name="Varje dag kl. 21:00").wait_for()
    page.get_by_role("button", name="Pausa").first.click()
    assert page.get_by_role("button", name="Återuppta").first.is_visible()
    context.close()


def test_every_main_page_is_accessible_at_both_sizes(chromium, server, app, authenticator):
    """axe-core finds no serious or critical violation on any main page; the screenshots of
    each page at both sizes are saved for a person to look at."""
    needs("axe-core", AXE.exists(), "npm ci --prefix tests/e2e")
    staff = server.demo["staff"]["contact_person"]
    case_id = server.demo["case"]["id"]
    pages = {
        "queue": "/inbox/",
        "conversation": f"/inbox/cases/{case_id}/",
        "alerts": "/inbox/alerts/",
        "schedules": f"/inbox/cases/{case_id}/checkins/",
    }
    failures = {}
    for viewport in (DESKTOP, PHONE):
        context = chromium.new_context(viewport=viewport, base_url=server.base_url, locale="sv-SE")
        page = context.new_page()
        page.goto("/inbox/login/")
        shoot(page, "login")
        failures.update(axe_violations(page, f"login {viewport['width']}"))
        context.close()
        context, page = log_in(chromium, server.base_url, staff, authenticator, viewport=viewport)
        for name, path in pages.items():
            page.goto(path)
            wait_connected(page)
            shoot(page, name)
            failures.update(axe_violations(page, f"{name} {viewport['width']}"))
        context.close()
    assert failures == {}, json.dumps(failures, indent=1, ensure_ascii=False)


def test_the_demo_client_says_why_the_server_refused_it(server, app):
    """A code already used (by the ``app`` fixture) ends in the server's own words."""
    demo = subprocess.run(
        [sys.executable, "-m", "client.demo", server.base_url, server.demo["case"]["enrollment_code"]],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert demo.returncode == 1
    assert demo.stderr.strip().splitlines() == ["the server refused: 400 Bad request: This code was already used."]


def test_the_api_reference_runs_in_a_browser_under_its_policy(chromium, server):
    """/api/v1/docs/: Swagger UI from this server's own files, under a CSP that allows
    nothing else; a refused script or style would show as a console error."""
    page = chromium.new_page()
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    response = page.goto(f"{server.base_url}/api/v1/docs/")
    assert response.status == 200
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() > 30
    assert problems == []
    page.close()


def test_a_reply_goes_over_rest_when_the_socket_stays_down(chromium, server, app, authenticator):
    """A socket that cannot connect (closed by the network as soon as it opens): after
    5 s the reply is posted over REST with the same ``client_id``, stored once, and
    reaches the app."""
    http, session, conversation, app_socket = app
    staff = server.demo["staff"]["contact_person"]
    case_id = server.demo["case"]["id"]
    context, page = log_in(chromium, server.base_url, staff, authenticator)
    refused = []
    context.route_web_socket("**/ws/v1/**", lambda socket: (refused.append(socket.url), socket.close()))
    page.goto(f"/inbox/cases/{case_id}/")
    page.get_by_test_id("reply-input").fill("Svar när uttaget är nere")
    page.get_by_test_id("reply-send").click()
    reply = page.get_by_test_id("conversation-message").filter(has_text="Svar när uttaget är nere")
    assert "pending" in reply.get_attribute("class")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=conversation-message]')]"
        ".some(el => el.textContent.includes('Svar när uttaget är nere') && el.dataset.seq)",
        timeout=15000,
    )
    assert refused, "the socket was never tried"
    assert page.get_by_test_id("connection-state").get_attribute("data-state") != "connected"
    seq = int(reply.get_attribute("data-seq"))
    frame = app_socket.wait_for(lambda f: f["type"] == "message.new" and f["message"]["seq"] == seq)
    assert frame["message"]["body"] == "Svar när uttaget är nere"
    assert reply.locator(".receipt").inner_text() == "Skickat"
    stored = http.get(session, f"/api/v1/conversations/{conversation}/messages", after_seq=0, limit=200).json()
    assert [m["seq"] for m in stored["results"] if m["body"] == "Svar när uttaget är nere"] == [seq]
    context.close()
