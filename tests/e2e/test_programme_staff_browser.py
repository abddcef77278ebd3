"""The programme pages for staff accounts, working hours and alert limits, and the audit
log, walked in a real browser the way a programme's admin, a new colleague and a
supervisor would, against a live ``manage.py serve`` with the demo seed.

Every page is photographed at 1280 by 800 and at 390 by 844 (``var/screenshots/``) and
checked with axe-core at both sizes, under each page's real Content-Security-Policy.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.e2e.browser import AXE, DESKTOP, PHONE, Authenticator, axe_violations, log_in, needs, shoot, staff_api

pytestmark = pytest.mark.slow

NEW_PASSWORD = "tre blå tranor över Vänern"


@pytest.fixture(scope="module")
def failures():
    """axe-core's serious findings, by page and width, checked after the walk."""
    found: dict[str, list[str]] = {}
    yield found
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)


@pytest.fixture(scope="module", autouse=True)
def _axe_is_there():
    needs("axe-core", AXE.exists(), "npm ci --prefix tests/e2e")


def look(page, name: str, failures: dict) -> None:
    """What a person sees, at both sizes: a screenshot and axe-core's check of each."""
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        shoot(page, name)
        failures.update(axe_violations(page, f"{name} {viewport['width']}"))
    page.set_viewport_size(DESKTOP)


def new_browser(chromium, server):
    context = chromium.new_context(viewport=DESKTOP, base_url=server.base_url, locale="sv-SE")
    return context, context.new_page()


def set_up_account(
    page, setup_url: str, authenticator: Authenticator, person: dict, *, new_password: bool, name: str, failures
) -> None:
    """Open a setup link, choose the password (an invitation; a 2FA reset keeps it), add
    the authenticator from the key the page shows, and confirm it with a code."""
    page.goto(setup_url)
    look(page, name, failures)
    assert page.locator("input[name=password]").count() == (1 if new_password else 0)
    if new_password:
        page.get_by_label("Lösenord", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Samma lösenord igen").fill(NEW_PASSWORD)
    person["totp_secret"] = page.get_by_test_id("totp-secret").inner_text()
    page.get_by_label("Den sexsiffriga kod som appen visar nu").fill(authenticator.code(person))
    page.get_by_role("button", name="Slutför").click()
    page.get_by_test_id("setup-done").wait_for()


def log_in_here(page, server, username: str, password: str, code: str) -> None:
    page.goto("/inbox/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.fill("input[name=otp]", code)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server.base_url}/inbox/")


def staff_row(page, username: str):
    return page.get_by_test_id("staff-row").filter(has=page.get_by_role("cell", name=username, exact=True))


def invite_nora(page, server, failures) -> str:
    """The admin invites Nora, forgetting her role at first; returns the link shown once."""
    page.get_by_test_id("invite-link").click()
    page.get_by_label("Förnamn").fill("Nora")
    page.get_by_label("Efternamn").fill("Nyberg")
    page.get_by_label("Användarnamn").fill("nora")
    page.get_by_role("button", name="Bjud in").click()
    assert page.get_by_test_id("error-roles").inner_text() == "Välj minst en roll."
    assert page.get_by_label("Förnamn").input_value() == "Nora"
    look(page, "staff-invite-error", failures)
    page.get_by_label("Kontaktperson", exact=True).check()
    page.get_by_role("button", name="Bjud in").click()
    page.get_by_role("heading", name="Nora Nyberg är inbjuden").wait_for()
    assert page.get_by_test_id("setup-qr").locator("svg").is_visible()
    setup_url = page.get_by_test_id("setup-url").inner_text()
    assert setup_url.startswith(f"{server.base_url}/inbox/setup/")
    look(page, "staff-invite-link", failures)
    return setup_url


def change_roles(page, failures) -> None:
    staff_row(page, "nora").get_by_role("link", name="Ändra roller").click()
    look(page, "staff-roles", failures)
    page.get_by_label("Jour", exact=True).check()
    page.get_by_role("button", name="Spara roller").click()
    page.get_by_test_id("flash").wait_for()
    assert staff_row(page, "nora").get_by_test_id("staff-roles").inner_text() == "Kontaktperson, Jour"
    look(page, "staff-after-roles", failures)


def reset_second_factor(page, failures) -> str:
    """A lost phone: the admin resets Nora's two-step verification; returns the new link."""
    staff_row(page, "nora").get_by_role("link", name="Återställ tvåstegsverifiering").click()
    look(page, "staff-reset-2fa", failures)
    page.get_by_role("button", name="Återställ och skapa en ny länk").click()
    page.get_by_role("heading", name="Ny inställningslänk för Nora Nyberg").wait_for()
    look(page, "staff-reset-2fa-link", failures)
    return page.get_by_test_id("setup-url").inner_text()


def deactivate(page, programme_id: int, failures) -> None:
    """Asked first; afterwards, what ended and her case to hand over."""
    page.goto(f"/inbox/programmes/{programme_id}/staff/")
    staff_row(page, "nora").get_by_role("link", name="Inaktivera").click()
    page.get_by_role("heading", name="Inaktivera Nora Nyberg?").wait_for()
    look(page, "staff-deactivate", failures)
    page.get_by_role("button", name="Inaktivera Nora Nyberg").click()
    page.get_by_test_id("deactivated").wait_for()
    assert page.get_by_test_id("account-closed").is_visible()
    assert page.get_by_test_id("orphaned-cases").inner_text() == "Ugglan"
    look(page, "staff-deactivated", failures)
    page.get_by_role("link", name="Tillbaka till personallistan").click()
    assert staff_row(page, "nora").count() == 0


def test_an_admin_invites_a_colleague_who_sets_up_their_account_then_roles_2fa_and_deactivation(
    chromium, server, authenticator, failures
):
    admin = server.demo["staff"]["admin"]
    programme_id = server.demo["programme"]["id"]
    context, page = log_in(chromium, server.base_url, admin, authenticator)
    page.get_by_role("link", name="Program").click()
    look(page, "programme-overview-admin", failures)
    page.get_by_role("link", name="Personal", exact=True).click()
    page.get_by_role("heading", name="Personal").wait_for()
    look(page, "staff", failures)
    setup_url = invite_nora(page, server, failures)

    # Nora, in a browser of her own: password, authenticator, login.
    nora = {"username": "nora", "password": NEW_PASSWORD}
    nora_context, nora_page = new_browser(chromium, server)
    set_up_account(nora_page, setup_url, authenticator, nora, new_password=True, name="setup", failures=failures)
    look(nora_page, "setup-done", failures)
    nora_page.get_by_role("link", name="Till inloggningen").click()
    log_in_here(nora_page, server, "nora", NEW_PASSWORD, authenticator.code(nora))
    refused = nora_page.goto(f"/inbox/programmes/{programme_id}/staff/")
    assert refused.status == 403
    assert "Bara programmets administratörer hanterar personal." in nora_page.locator("main").inner_text()
    assert nora_page.goto(setup_url.removeprefix(server.base_url)).status == 404  # the link worked once

    page.goto(f"/inbox/programmes/{programme_id}/staff/")
    assert staff_row(page, "nora").get_by_test_id("staff-2fa").inner_text() == "Aktiverad"
    # A supervisor makes her the primary contact of a new case (over the API here: the
    # case pages are another module's), so deactivating her leaves a case to hand over.
    supervisor = staff_api(server.base_url, server.demo["staff"]["supervisor"], authenticator)
    nora_id = int(staff_row(page, "nora").get_attribute("data-user-id"))
    opened = supervisor.post(
        f"/api/v1/programmes/{programme_id}/cases", json={"alias": "Ugglan", "primary_contact": nora_id}
    )
    assert opened.status_code == 201, opened.text
    supervisor.close()

    change_roles(page, failures)

    reset_url = reset_second_factor(page, failures)
    nora_page.goto("/inbox/")
    assert "/inbox/login/" in nora_page.url  # her session ended with the old authenticator
    new_phone = {"username": "nora's new phone", "password": NEW_PASSWORD}
    set_up_account(
        nora_page,
        reset_url,
        authenticator,
        new_phone,
        new_password=False,
        name="setup-new-authenticator",
        failures=failures,
    )
    log_in_here(nora_page, server, "nora", NEW_PASSWORD, authenticator.code(new_phone))

    deactivate(page, programme_id, failures)
    nora_page.goto("/inbox/")
    assert "/inbox/login/" in nora_page.url
    nora_context.close()
    context.close()


def test_a_supervisor_sets_working_hours_absences_and_alert_limits(chromium, server, authenticator, failures):
    supervisor = server.demo["staff"]["supervisor"]
    contact = server.demo["staff"]["contact_person"]
    context, page = log_in(chromium, server.base_url, supervisor, authenticator)
    page.get_by_role("link", name="Program").click()
    look(page, "programme-overview-supervisor", failures)
    page.get_by_role("link", name="Arbetstider och larmgränser").click()
    page.get_by_role("heading", name="Larmgränser", exact=True).wait_for()
    look(page, "settings", failures)

    page.get_by_label("Kvitteringstid, minuter").fill("0")
    page.get_by_role("button", name="Spara larmgränser").click()
    assert page.get_by_test_id("error-ack_timeout_minutes").is_visible()
    look(page, "settings-limits-error", failures)
    page.get_by_label("Kvitteringstid, minuter").fill("20")
    page.get_by_label("Gräns för obesvarat meddelande, minuter").fill("45")
    page.get_by_role("button", name="Spara larmgränser").click()
    page.get_by_test_id("flash").filter(has_text="Larmgränserna är sparade.").wait_for()
    assert page.get_by_label("Kvitteringstid, minuter").input_value() == "20"

    row = page.get_by_test_id("hours-row").filter(has_text="Kim Contact")
    row.get_by_role("link", name="Ändra").click()
    page.get_by_role("heading", name="Arbetstider för Kim Contact").wait_for()
    look(page, "working-hours", failures)
    page.get_by_label("fredag", exact=True).uncheck()
    page.get_by_label("Arbetet börjar").fill("09:00")
    page.get_by_label("Arbetet slutar").fill("08:00")
    page.get_by_label("Tidszon").select_option("Europe/Helsinki")
    first_days = page.locator("input[name$=first_day]")
    last_days = page.locator("input[name$=last_day]")
    first_days.nth(0).fill("2027-07-05")
    last_days.nth(0).fill("2027-07-30")
    page.get_by_role("button", name="Spara arbetstider").click()
    assert page.get_by_test_id("error-end").is_visible()
    assert first_days.nth(0).input_value() == "2027-07-05"  # nothing typed is lost
    look(page, "working-hours-error", failures)
    page.get_by_label("Arbetet slutar").fill("16:30")
    page.get_by_role("button", name="Spara arbetstider").click()
    page.get_by_test_id("flash").filter(has_text="Arbetstiderna för Kim Contact är sparade.").wait_for()
    row = page.get_by_test_id("hours-row").filter(has_text="Kim Contact")
    text = row.inner_text()
    assert "måndag\u2013torsdag" in text and "09:00\u201316:30" in text and "Europe/Helsinki" in text
    assert "2027-07-05 \u2013 2027-07-30" in text
    look(page, "settings-saved", failures)

    # A contact person's own settings are a supervisor's: the contact person is refused.
    contact_context, contact_page = new_browser(chromium, server)
    log_in_here(contact_page, server, contact["username"], contact["password"], authenticator.code(contact))
    assert contact_page.goto(f"/inbox/programmes/{server.demo['programme']['id']}/settings/").status == 403
    contact_context.close()
    context.close()


def test_the_audit_log_filters_exports_csv_and_checks_the_chain(chromium, server, authenticator, failures, tmp_path):
    admin = server.demo["staff"]["admin"]
    supervisor = server.demo["staff"]["supervisor"]
    context, page = log_in(chromium, server.base_url, admin, authenticator)
    page.goto("/inbox/programmes/")
    page.get_by_role("link", name="Granskningslogg").click()
    page.get_by_role("heading", name="Granskningslogg").wait_for()
    look(page, "audit", failures)

    page.get_by_label("Medarbetare").select_option(label="Sam Supervisor")
    page.get_by_label("Typ av händelse").select_option("staff.login")
    page.get_by_role("button", name="Filtrera").click()
    rows = page.get_by_test_id("audit-row")
    rows.first.wait_for()
    assert rows.count() >= 1
    for n in range(rows.count()):
        assert "Sam Supervisor" in rows.nth(n).inner_text() or supervisor["username"] in rows.nth(n).inner_text()
        assert "staff.login" in rows.nth(n).inner_text()
    look(page, "audit-filtered", failures)

    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    saved = Path(tmp_path) / "audit.csv"
    download.value.save_as(saved)
    exported = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert len(exported) == rows.count()
    assert {row["action"] for row in exported} == {"staff.login"}
    assert {row["actor_id"] for row in exported} == {str(supervisor["user_id"])}

    # The export is itself in the log, with who made it.
    page.goto("/inbox/programmes/")
    page.get_by_role("link", name="Granskningslogg").click()
    page.get_by_label("Typ av händelse").select_option("audit.exported")
    page.get_by_role("button", name="Filtrera").click()
    latest = page.get_by_test_id("audit-row").first
    assert "Ada Admin" in latest.inner_text() or admin["username"] in latest.inner_text()
    assert f"rows: {len(exported)}" in latest.inner_text()

    page.get_by_test_id("verify-link").click()
    assert page.get_by_test_id("verdict").get_attribute("data-ok") == "true"
    look(page, "audit-verification", failures)
    context.close()
