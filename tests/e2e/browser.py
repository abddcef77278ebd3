"""What the browser tests share: Debian's Chromium driven by Playwright, a live server,
signing in with a one-time code, screenshots and the axe-core accessibility check.
The fixtures are module-scoped: each test module gets its own server and browser."""

from __future__ import annotations

import base64
import shutil
import time

import httpx
from django_otp.oath import totp

from tests.conftest import needs  # noqa: F401 (the browser tests take it from here with the rest)
from tests.e2e.live_server import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = ROOT / "tests" / "e2e" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


class Authenticator:
    """One-time codes for the demo staff. A code is accepted once, so a second login of the
    same person inside one 30-second step uses the next step's code (inside the allowed
    drift), and a third waits for time to catch up."""

    def __init__(self) -> None:
        self.last_step: dict[str, int] = {}

    def code(self, staff: dict) -> str:
        now_step = int(time.time()) // 30
        step = max(now_step, self.last_step.get(staff["username"], -1) + 1)
        while step > now_step + 1:
            time.sleep(1)
            now_step = int(time.time()) // 30
        self.last_step[staff["username"]] = step
        return f"{totp(base64.b32decode(staff['totp_secret']), t0=0, step=30, drift=step - now_step):06d}"


def log_in(browser, base_url: str, staff: dict, authenticator: Authenticator, *, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport, base_url=base_url, locale="sv-SE")
    page = context.new_page()
    page.goto("/inbox/")
    assert "/inbox/login/" in page.url
    page.fill("input[name=username]", staff["username"])
    page.fill("input[name=password]", staff["password"])
    page.fill("input[name=otp]", authenticator.code(staff))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/inbox/")
    return context, page


def wait_connected(page) -> None:
    page.wait_for_selector("[data-testid=connection-state][data-state=connected]", timeout=15000)


def staff_api(base_url: str, staff: dict, authenticator: Authenticator) -> httpx.Client:
    """An HTTP client signed in to the inbox (session cookie and CSRF token), for the API
    calls a supervisor would make."""
    client = httpx.Client(base_url=base_url, timeout=15)
    client.get("/inbox/login/")
    token = client.cookies["csrftoken"]
    form = {"username": staff["username"], "password": staff["password"], "otp": authenticator.code(staff)}
    response = client.post("/inbox/login/", data={**form, "csrfmiddlewaretoken": token})
    assert response.status_code == 302, response.text
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    client.headers["Referer"] = f"{base_url}/inbox/"
    return client


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"), full_page=True)


def axe_violations(page, label: str) -> dict[str, list[str]]:
    """axe-core's serious and critical findings on the page. axe is evaluated through the
    DevTools protocol, which the page's CSP does not govern, so pages are checked under
    their real policy (a script tag would be refused, as it should be)."""
    page.evaluate(AXE.read_text())
    checked, violations = page.evaluate(
        "async () => { const r = await axe.run(document); return [r.passes.length, r.violations]; }"
    )
    assert checked > 0, "axe-core checked nothing"
    serious = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} times, e.g. {v['nodes'][0]['html'][:120]})"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    return {label: serious} if serious else {}
