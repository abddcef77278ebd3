"""A new programme set up and run from an empty database with ``create_admin`` and the
inbox alone, in a real browser, as a municipality starting with Livlina would: the admin
follows the printed link, invites a supervisor, a contact person and an on-call worker;
the supervisor opens a case and puts the on-call worker on a rotation; the contact person
makes the enrollment code, the defector's app enrolls with it and writes, and the contact
person answers from the conversation. No shell, no seed, no API call by staff.

Screenshots of the steps are saved as ``var/screenshots/from-empty-…``."""

from __future__ import annotations

import pytest

from client.device import LivlinaClient
from tests.e2e.app_socket import AppSocket
from tests.e2e.browser import DESKTOP, Authenticator, axe_violations, shoot
from tests.e2e.live_server import live_server

pytestmark = pytest.mark.slow

PASSWORD = "a long password for a new programme"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("empty"), seed_demo=False) as running:
        yield running


def _look(page, name: str, failures: dict) -> None:
    shoot(page, f"from-empty-{name}")
    failures.update(axe_violations(page, name))


def _new_page(chromium, server):
    context = chromium.new_context(viewport=DESKTOP, base_url=server.base_url, locale="sv-SE")
    return context, context.new_page()


def _main_menu(page, name: str) -> None:
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name=name).click()


def _set_up(page, url: str, person: dict, authenticator: Authenticator) -> None:
    """Follow a one-time setup link: a password, then the authenticator from the key the
    page shows, confirmed with a code."""
    page.goto(url)
    page.get_by_label("Lösenord", exact=True).fill(PASSWORD)
    page.get_by_label("Samma lösenord igen").fill(PASSWORD)
    person["totp_secret"] = page.get_by_test_id("totp-secret").inner_text()
    page.get_by_label("Den sexsiffriga kod som appen visar nu").fill(authenticator.code(person))
    page.get_by_role("button", name="Slutför").click()
    page.get_by_test_id("setup-done").wait_for()


def _log_in(page, server, person: dict, authenticator: Authenticator) -> None:
    page.goto("/inbox/login/")
    page.fill("input[name=username]", person["username"])
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=otp]", authenticator.code(person))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server.base_url}/inbox/")


def _invite(page, first: str, last: str, username: str, role: str) -> str:
    page.get_by_test_id("invite-link").click()
    page.get_by_label("Förnamn").fill(first)
    page.get_by_label("Efternamn").fill(last)
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label(role, exact=True).check()
    page.get_by_role("button", name="Bjud in").click()
    page.get_by_role("heading", name=f"{first} {last} är inbjuden").wait_for()
    url = page.get_by_test_id("setup-url").inner_text()
    page.get_by_role("link", name="Tillbaka till personallistan").click()
    return url


def _admin_sets_up_the_programme(chromium, server, authenticator, failures) -> dict[str, dict]:
    """``create_admin``'s link, then three invitations, each followed by its person."""
    created = server.manage(
        "create_admin", "--programme", "Exit Malmö", "--username", "anna", "--base-url", server.base_url
    )
    assert created.returncode == 0, created.stderr
    setup_url = created.stdout.strip().splitlines()[-1]
    assert setup_url.startswith(f"{server.base_url}/inbox/setup/")

    admin = {"username": "anna"}
    context, page = _new_page(chromium, server)
    _set_up(page, setup_url, admin, authenticator)
    _log_in(page, server, admin, authenticator)
    _main_menu(page, "Program")
    page.get_by_role("link", name="Personal", exact=True).click()
    page.get_by_role("heading", name="Personal").wait_for()
    people = {
        "supervisor": ("Sara", "Ström", "sara", "Arbetsledare"),
        "contact": ("Karim", "Berg", "karim", "Kontaktperson"),
        "oncall": ("Olle", "Natt", "olle", "Jour"),
    }
    links = {key: _invite(page, *person) for key, person in people.items()}
    _look(page, "staff", failures)
    assert page.get_by_test_id("staff-row").count() == 4
    context.close()

    staff = {key: {"username": person[2]} for key, person in people.items()}
    for key, url in links.items():
        context, page = _new_page(chromium, server)
        _set_up(page, url, staff[key], authenticator)
        context.close()
    return staff


def _supervisor_opens_a_case_and_a_rotation(chromium, server, supervisor, authenticator, failures) -> None:
    context, page = _new_page(chromium, server)
    _log_in(page, server, supervisor, authenticator)
    _main_menu(page, "Program")
    page.get_by_role("link", name="Ärenden", exact=True).click()
    page.get_by_test_id("open-case").click()
    page.get_by_label("Alias").fill("Falken")
    page.get_by_label("Primär kontaktperson").select_option(label="Karim Berg")
    page.get_by_role("button", name="Öppna ärendet").click()
    page.get_by_role("heading", name="Ärendet Falken är öppnat").wait_for()
    assert "Karim Berg tar fram registreringskoden" in page.locator("main").inner_text()
    _main_menu(page, "Program")
    page.get_by_role("link", name="Jour", exact=True).click()
    page.get_by_role("link", name="Nytt jourschema").click()
    page.get_by_label("Namn").fill("Natt och helg")
    page.get_by_label("Tur 1").select_option(label="Olle Natt")
    # The first shift starts today at the handover time (08:00 by default): before it nobody
    # is on call. Midnight has passed whenever the test runs.
    page.get_by_label("Överlämning klockan").fill("00:00")
    page.get_by_role("button", name="Lägg till jourschemat").click()
    page.get_by_test_id("rotation").filter(has_text="Natt och helg").wait_for()
    assert "Olle Natt har jour nu." in page.locator("main").inner_text()
    _look(page, "oncall", failures)
    context.close()


def _contact_person_enrolls_the_app_and_answers(chromium, server, contact, authenticator, failures) -> None:
    context, page = _new_page(chromium, server)
    _log_in(page, server, contact, authenticator)
    page.get_by_test_id("queue-row").filter(has_text="Falken").get_by_role("link").click()
    page.get_by_role("button", name="Ny registreringskod").click()
    code = page.locator("#enrollment-code").inner_text()
    _look(page, "enrollment-code", failures)

    app = LivlinaClient(server.base_url)
    session = app.enroll(code)
    conversation = app.get(session, "/api/v1/conversations").json()[0]["id"]
    app_socket = AppSocket(server.base_url.replace("http", "ws", 1) + "/ws/v1/", session.access_token)
    try:
        app_socket.send_message(conversation, "Hej, det är jag. Jag har kommit fram.")
        page.goto("/inbox/")
        row = page.get_by_test_id("queue-row").filter(has_text="Falken")
        row.locator(".count").filter(has_text="1").wait_for()
        row.get_by_role("link").click()
        page.get_by_test_id("conversation-message").filter(has_text="Jag har kommit fram.").wait_for()
        page.wait_for_selector("[data-testid=connection-state][data-state=connected]", timeout=15000)
        page.get_by_test_id("reply-input").fill("Välkommen! Jag ringer i morgon klockan tio.")
        page.get_by_test_id("reply-send").click()
        frame = app_socket.wait_for(
            lambda f: f["type"] == "message.new" and f["message"]["body"].startswith("Välkommen!")
        )
        assert frame["message"]["seq"] == 2
        _look(page, "conversation", failures)
    finally:
        app_socket.close()
        app.close()
        context.close()


def test_a_programme_is_set_up_and_run_from_an_empty_database(chromium, server):
    authenticator = Authenticator()
    failures: dict[str, list[str]] = {}
    staff = _admin_sets_up_the_programme(chromium, server, authenticator, failures)
    _supervisor_opens_a_case_and_a_rotation(chromium, server, staff["supervisor"], authenticator, failures)
    _contact_person_enrolls_the_app_and_answers(chromium, server, staff["contact"], authenticator, failures)
    assert failures == {}
