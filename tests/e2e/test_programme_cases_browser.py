"""The programme pages for cases, transfers and on-call in a real browser (Debian's
Chromium through Playwright) against a live ``manage.py serve`` with the demo seed,
walked as a person would: the demo supervisor opens a case with a backup, changes the
backup, closes the case and, with a second supervisor, destroys its content; proposes
moving the demo case to the other demo programme, whose supervisor accepts it naming
their contact person, after which the demo contact person finds nothing; and rotations
and overrides are added, changed and deleted with the forms.

Every page is saved at 1280 by 800 and 390 by 844 in ``var/screenshots/`` (named
``programme-…``) and checked with axe-core."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.browser import AXE, DESKTOP, PHONE, axe_violations, log_in, needs, shoot

pytestmark = pytest.mark.slow

INBOX_ZONE = ZoneInfo("Europe/Stockholm")
EXTRA_PASSWORD = "a long test password for extra staff"


class Looker:
    """Screenshots of a page at both sizes, with axe-core's verdict on each; and anything
    the browser refused (a script or style the policy blocks shows as a console error)."""

    def __init__(self) -> None:
        self.violations: dict[str, list[str]] = {}
        self.console_errors: list[str] = []
        self.watched: set[int] = set()

    def watch(self, page) -> None:
        if id(page) not in self.watched:
            self.watched.add(id(page))
            page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    def __call__(self, page, name: str) -> None:
        self.watch(page)
        for size, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
            page.set_viewport_size(size)
            shoot(page, f"programme-{name}")
            self.violations |= axe_violations(page, f"{name} ({label})")
        page.set_viewport_size(DESKTOP)


@pytest.fixture(scope="module")
def look():
    needs("axe-core", AXE.exists(), "npm ci --prefix tests/e2e")
    looker = Looker()
    yield looker
    assert looker.violations == {}, json.dumps(looker.violations, indent=1, ensure_ascii=False)
    assert [e for e in looker.console_errors if "Content Security Policy" in e] == []


@pytest.fixture(scope="module")
def extra_staff(server) -> dict[str, dict]:
    """A second supervisor (destroying content takes two) and a second contact person (so
    a backup can be changed) in the demo programme, made as an admin's invitation would
    leave them: a password and a confirmed authenticator."""
    code = f"""
import base64, json
from django_otp.plugins.otp_totp.models import TOTPDevice
from backend.accounts.models import Programme, StaffRole, User
programme = Programme.objects.get(pk={server.demo["programme"]["id"]})
made = {{}}
for key, username, first, last, role in [
    ("supervisor", "demo-supervisor-2", "Mo", "Supervisor", "supervisor"),
    ("contact_person", "demo-contact-2", "Jo", "Contact", "contact_person"),
]:
    user = User(username=username, kind=User.Kind.STAFF, first_name=first, last_name=last)
    user.set_password({EXTRA_PASSWORD!r})
    user.save()
    StaffRole.objects.create(user=user, programme=programme, role=role)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    secret = base64.b32encode(bytes.fromhex(device.key)).decode()
    made[key] = {{"username": username, "password": {EXTRA_PASSWORD!r}, "totp_secret": secret, "user_id": user.pk}}
print(json.dumps(made))
"""
    result = server.manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def programme_section(page, programme_name: str, section: str) -> None:
    """From the Programme link in the menu to one section of one programme."""
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Program", exact=True).click()
    page.get_by_role("region", name=programme_name).get_by_role("link", name=section, exact=True).click()


def open_case_with_a_backup(page, programme: str, look) -> None:
    """From the programme overview to a new case's page: Tranan, Kim as its contact
    person and Alex as backup. The supervisor is told who makes the enrollment code."""
    programme_section(page, programme, "Ärenden")
    page.get_by_role("heading", name="Ärenden").wait_for()
    look(page, "cases")
    page.get_by_test_id("open-case").click()
    page.get_by_label("Alias").fill("Tranan")
    page.get_by_label("Primär kontaktperson").select_option(label="Kim Contact")
    page.get_by_label("Alex On-call").check()
    look(page, "open-case")
    page.get_by_role("button", name="Öppna ärendet").click()
    page.get_by_role("heading", name="Ärendet Tranan är öppnat").wait_for()
    assert "Kim Contact tar fram registreringskoden" in page.locator("main").inner_text()
    look(page, "case-opened")
    page.get_by_role("link", name="Till ärendets sida").click()
    page.get_by_role("heading", name="Tranan").wait_for()
    assert page.get_by_test_id("primary-contact").inner_text() == "Kim Contact"
    assert page.get_by_test_id("backup").inner_text().startswith("Alex On-call")
    look(page, "case")


def change_the_backup(page) -> None:
    page.get_by_role("button", name="Ta bort Alex On-call från ärendet").click()
    page.get_by_text("Inga ersättare.").wait_for()
    page.get_by_label("Ny ersättare").select_option(label="Jo Contact")
    page.get_by_role("button", name="Lägg till som ersättare").click()
    page.get_by_test_id("backup").filter(has_text="Jo Contact").wait_for()
    assert page.get_by_test_id("backup").count() == 1


def close_the_case(page, look) -> None:
    page.get_by_role("link", name="Avsluta ärendet …").click()
    page.get_by_role("heading", name="Avsluta ärendet Tranan?").wait_for()
    page.get_by_role("button", name="Avsluta ärendet", exact=True).click()  # without a note: refused
    assert "Det här fältet är obligatoriskt." in page.locator("#id_note_error").inner_text()
    look(page, "case-close")
    page.get_by_label("Varför avslutas ärendet?").fill("Personen har flyttat utomlands; stödet är avslutat.")
    page.get_by_role("button", name="Avsluta ärendet", exact=True).click()
    page.get_by_test_id("case-state").filter(has_text="Avslutat").wait_for()


def ask_to_destroy_the_content(page, look) -> None:
    page.get_by_role("link", name="Förstör innehållet …").click()
    look(page, "case-shred-ask")
    page.get_by_test_id("shred-request").click()
    waiting = page.get_by_test_id("shred-waiting")
    waiting.wait_for()
    assert "Väntar på en andra arbetsledare till" in waiting.inner_text()
    look(page, "case-shred-waiting")


def test_a_case_is_opened_changed_closed_and_its_content_destroyed_by_two_supervisors(
    chromium, server, authenticator, extra_staff, look
):
    context, page = log_in(chromium, server.base_url, server.demo["staff"]["supervisor"], authenticator)
    page.get_by_role("link", name="Program", exact=True).click()
    look(page, "overview-supervisor")
    open_case_with_a_backup(page, server.demo["programme"]["name"], look)
    change_the_backup(page)
    close_the_case(page, look)
    ask_to_destroy_the_content(page, look)
    case_url = page.url
    context.close()

    context, page = log_in(chromium, server.base_url, extra_staff["supervisor"], authenticator)
    page.goto(case_url)
    page.get_by_role("link", name="Bekräfta: förstör innehållet …").click()
    assert "Sam Supervisor begärde det" in page.locator("main").inner_text()
    look(page, "case-shred-confirm")
    page.get_by_test_id("shred-confirm").click()
    page.get_by_test_id("content-destroyed").wait_for()
    assert page.get_by_test_id("case-state").inner_text() == "Innehållet förstört"
    look(page, "case-shredded")
    page.get_by_role("link", name="Ärenden", exact=True).click()
    look(page, "cases-after")
    context.close()


def test_a_contact_person_opening_a_case_gets_its_enrollment_code(chromium, server, authenticator, look):
    demo = server.demo
    context, page = log_in(chromium, server.base_url, demo["staff"]["contact_person"], authenticator)
    programme_section(page, demo["programme"]["name"], "Öppna ärende")
    page.get_by_label("Alias").fill("Vipan")
    page.get_by_label("Primär kontaktperson").select_option(label="Kim Contact")
    page.get_by_role("button", name="Öppna ärendet").click()
    code = page.locator("#enrollment-code")
    code.wait_for()
    assert len(code.inner_text()) == 14 and page.locator(".qr svg").count() == 1
    look(page, "case-opened-code")
    page.get_by_role("link", name="Till samtalet").click()
    page.get_by_role("heading", name="Vipan").wait_for()
    context.close()


def test_the_demo_case_moves_to_the_other_programme_and_the_sender_loses_it(chromium, server, authenticator, look):
    demo = server.demo
    other = demo["other_programme"]
    case_id = demo["case"]["id"]
    alias = demo["case"]["alias"]
    contact, page_contact = log_in(chromium, server.base_url, demo["staff"]["contact_person"], authenticator)
    assert page_contact.goto(f"/inbox/cases/{case_id}/").status == 200

    context, page = log_in(chromium, server.base_url, demo["staff"]["supervisor"], authenticator)
    programme_section(page, demo["programme"]["name"], "Ärenden")
    page.get_by_role("link", name=alias).click()
    page.get_by_label("Flytta till program").select_option(label=other["name"])
    page.get_by_role("button", name="Föreslå flytten").click()
    page.get_by_test_id("transfer-pending").wait_for()
    look(page, "case-transfer-pending")
    programme_section(page, demo["programme"]["name"], "Flyttar mellan program")
    page.get_by_test_id("outgoing-transfer").filter(has_text="Väntar på svar").wait_for()
    look(page, "transfers-outgoing")

    receiver, page_receiver = log_in(chromium, server.base_url, other["supervisor"], authenticator)
    programme_section(page_receiver, other["name"], "Flyttar mellan program")
    card = page_receiver.get_by_test_id("incoming-transfer").filter(has_text=alias)
    card.wait_for()
    look(page_receiver, "transfers-incoming")
    card.get_by_label("Ny primär kontaktperson").select_option(label="Charlie Contact")
    card.get_by_test_id("transfer-accept").click()
    page_receiver.get_by_test_id("answered-transfer").filter(has_text="Godkänd").wait_for()
    look(page_receiver, "transfers-incoming-accepted")
    page_receiver.get_by_role("link", name=alias).click()
    assert page_receiver.get_by_test_id("primary-contact").inner_text() == "Charlie Contact"
    receiver.close()

    unknown = page_contact.goto("/inbox/cases/999999/")
    unknown_text = page_contact.locator("main").inner_text()
    gone = page_contact.goto(f"/inbox/cases/{case_id}/")
    assert unknown.status == gone.status == 404 and page_contact.locator("main").inner_text() == unknown_text
    contact.close()

    page.reload()
    row = page.get_by_test_id("outgoing-transfer").filter(has_text=alias)
    assert row.get_attribute("data-state") == "accepted" and "Godkänd" in row.inner_text()
    assert "Charlie" not in page.locator("main").inner_text()
    look(page, "transfers-accepted")
    context.close()


def add_and_change_a_rotation(page, look) -> None:
    page.get_by_role("link", name="Nytt jourschema").click()
    page.get_by_label("Namn").fill("Helgjour")
    page.get_by_label("Tur 1").select_option(label="Alex On-call")
    page.get_by_label("Tur 2").select_option(label="Alex On-call")
    page.get_by_role("button", name="Lägg till jourschemat").click()  # twice the same person: refused
    assert page.locator("#id_member_2_error").inner_text() == "Personen har redan en tur."
    look(page, "rotation-new")
    page.get_by_label("Tur 2").select_option(label="Kim Contact")
    page.get_by_label("Dagar per pass").fill("2")
    page.get_by_role("button", name="Lägg till jourschemat").click()
    rotation = page.get_by_test_id("rotation").filter(has_text="Helgjour")
    rotation.wait_for()
    assert "2 dagar från" in rotation.inner_text()

    rotation.get_by_role("link", name="Ändra").click()
    page.get_by_label("Namn").fill("Helg- och nattjour")
    page.get_by_label("Överlämning klockan").fill("17:00")
    look(page, "rotation-change")
    page.get_by_role("button", name="Spara jourschemat").click()
    rotation = page.get_by_test_id("rotation").filter(has_text="Helg- och nattjour")
    rotation.wait_for()
    assert "överlämning klockan 17:00" in rotation.inner_text()


def add_change_and_delete_an_override(page, look) -> None:
    page.get_by_role("link", name="Nytt undantag").click()
    day = dt.datetime.now(INBOX_ZONE).date() + dt.timedelta(days=3)
    next_day = day + dt.timedelta(days=1)
    page.get_by_label("Vem har jour").select_option(label="Kim Contact")
    page.get_by_label("Jourschema").select_option(label="Helg- och nattjour")
    page.get_by_label("Från").fill(f"{day:%Y-%m-%d}T18:00")
    page.get_by_label("Till").fill(f"{day:%Y-%m-%d}T17:00")
    page.get_by_role("button", name="Lägg till undantaget").click()  # ends before it starts: refused
    assert page.locator("#id_ends_at_error").inner_text() == "Slutet måste komma efter början."
    look(page, "override-new")
    page.get_by_label("Till").fill(f"{next_day:%Y-%m-%d}T08:00")
    page.get_by_role("button", name="Lägg till undantaget").click()
    override = page.get_by_test_id("override").filter(has_text="Kim Contact")
    override.wait_for()
    assert f"{day:%Y-%m-%d} 18:00" in override.inner_text()
    look(page, "oncall-with-override")

    override.get_by_role("link", name="Ändra").click()
    page.get_by_label("Till").fill(f"{next_day:%Y-%m-%d}T12:00")
    page.get_by_role("button", name="Spara undantaget").click()
    override = page.get_by_test_id("override").filter(has_text="Kim Contact")
    assert f"{next_day:%Y-%m-%d} 12:00" in override.inner_text()

    override.get_by_role("link", name="Ta bort").click()
    look(page, "override-delete")
    page.get_by_test_id("delete-confirm").click()
    page.get_by_role("heading", name="Jour", exact=True).wait_for()
    assert page.get_by_test_id("override").count() == 0


def test_rotations_and_overrides_are_added_changed_and_deleted(chromium, server, authenticator, look):
    demo = server.demo
    programme = demo["programme"]["name"]
    reader, page_reader = log_in(chromium, server.base_url, demo["staff"]["contact_person"], authenticator)
    programme_section(page_reader, programme, "Jour")
    page_reader.get_by_test_id("coverage").filter(has_text="Alex On-call har jour nu.").wait_for()
    assert page_reader.get_by_role("link", name="Nytt jourschema").count() == 0
    look(page_reader, "oncall-read-only")
    reader.close()

    context, page = log_in(chromium, server.base_url, demo["staff"]["supervisor"], authenticator)
    programme_section(page, programme, "Jour")
    look(page, "oncall")
    add_and_change_a_rotation(page, look)
    add_change_and_delete_an_override(page, look)

    page.get_by_test_id("rotation").filter(has_text="Helg- och nattjour").get_by_role("link", name="Ta bort").click()
    look(page, "rotation-delete")
    page.get_by_test_id("delete-confirm").click()
    page.get_by_role("heading", name="Jour", exact=True).wait_for()
    assert page.get_by_test_id("rotation").filter(has_text="Helg- och nattjour").count() == 0
    context.close()
