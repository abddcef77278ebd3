"""The programme overview opens exactly the sections a role may use, and every
programme page carries the inbox's strict policy with no inline code."""

from __future__ import annotations

import re

import pytest

from tests.inbox.programme.conftest import MISSING_PROGRAMME

SECTIONS = {
    "staff": "Personal",
    "settings": "Arbetstider och larmgränser",
    "audit": "Granskningslogg",
}


@pytest.mark.parametrize(
    ("role", "opened"),
    [
        ("admin", {"staff", "audit"}),
        ("supervisor", {"settings", "audit"}),
        ("contact_person", set()),
        ("on_call", set()),
    ],
)
def test_the_overview_links_the_sections_a_role_opens(staff_in_role, programme, as_staff, role, opened):
    html = as_staff(staff_in_role[role]).get("/inbox/programmes/").content.decode()
    linked = set(re.findall(rf'href="/inbox/programmes/{programme.pk}/(staff|settings|audit)/"', html))
    assert linked == opened
    for section in opened:
        assert SECTIONS[section] in html


def test_every_page_carries_the_strict_policy_and_no_inline_code(staff_in_role, programme, contact, as_staff):
    base = f"/inbox/programmes/{programme.pk}"
    by_role = {
        "admin": [
            f"{base}/staff/",
            f"{base}/staff/invite/",
            f"{base}/staff/{contact.user.pk}/roles/",
            f"{base}/staff/{contact.user.pk}/deactivate/",
            f"{base}/staff/{contact.user.pk}/reset-2fa/",
            f"{base}/audit/",
            f"{base}/audit/verification/",
        ],
        "supervisor": [f"{base}/settings/", f"{base}/settings/working-hours/{contact.user.pk}/"],
    }
    for role, urls in by_role.items():
        client = as_staff(staff_in_role[role])
        for url in [*urls, f"/inbox/programmes/{MISSING_PROGRAMME}/audit/"]:
            response = client.get(url)
            assert response.status_code in (200, 404), url
            policy = response["Content-Security-Policy"]
            assert "default-src 'self'" in policy and "unsafe-inline" not in policy, url
            html = response.content.decode()
            assert "<style" not in html and " style=" not in html, url
            assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", html), url
