"""The inbox in a real browser (Debian's Chromium driven by Playwright): a contact person
logs in with password and TOTP, sees their case, and issues an enrollment code."""

from __future__ import annotations

import base64
import os
import shutil

import pytest
from django_otp.oath import totp

from tests.e2e.live_server import live_server

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("needs Chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


def test_contact_person_logs_in_with_totp_and_issues_an_enrollment_code(tmp_path, browser):
    with live_server(tmp_path) as server:
        staff = server.demo["staff"]["contact_person"]
        page = browser.new_page()
        page.goto(f"{server.base_url}/inbox/")
        assert page.url.startswith(f"{server.base_url}/inbox/login/")

        page.fill("input[name=username]", staff["username"])
        page.fill("input[name=password]", staff["password"])
        page.fill("input[name=otp]", "000000")
        page.click("button[type=submit]")
        page.screenshot(path="/tmp/after-wrong-otp.png")
        assert page.get_by_role("alert").inner_text() == "Wrong username, password or one-time code."

        # django-otp throttles a device for 1 s after a failure (doubling each time).
        page.wait_for_timeout(1100)
        page.fill("input[name=password]", staff["password"])
        page.fill("input[name=otp]", f"{totp(base64.b32decode(staff['totp_secret'])):06d}")
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.base_url}/inbox/")
        assert page.get_by_role("heading", name="Your cases").is_visible()
        assert page.get_by_text(server.demo["case"]["alias"]).is_visible()

        page.click("text=New enrollment code")
        code = page.locator("#enrollment-code").inner_text()
        assert len(code.replace("-", "")) == 12
        assert page.locator("svg").count() == 1
        page.screenshot(path=str(tmp_path / "enrollment-code.png"))

        page.click("text=Log out")
        page.goto(f"{server.base_url}/inbox/")
        assert page.url.startswith(f"{server.base_url}/inbox/login/")
