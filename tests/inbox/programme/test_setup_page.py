"""The setup page behind a one-time link, as the inbox shows it: the inbox's layout and
policy, Swedish by default with the language switch, never cached, and a form that says
what is wrong next to the field and changes nothing until everything is right. (What
the link does is tested in tests/administration/test_create_admin_and_setup.py.)"""

from __future__ import annotations

import re

from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from backend.accounts.models import StaffRole, User
from backend.administration.models import SetupLink
from backend.administration.staff_services import invite_staff
from tests.administration.setup_links import NEW_PASSWORD, current_code, secret_on_page


def invitation(programme, admin) -> str:
    invited = invite_staff(
        programme=programme,
        actor=admin.user,
        username="nora",
        first_name="Nora",
        last_name="Ny",
        roles=[StaffRole.Role.CONTACT_PERSON],
    )
    return f"/inbox/setup/{invited.token}/"


def test_the_page_is_the_inboxs_in_swedish_under_its_policy_and_never_cached(programme, admin):
    response = APIClient().get(invitation(programme, admin))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="sv">' in html and "Skapa ditt konto" in html and "/static/inbox/inbox.css" in html
    # The token never travels in a Referer header, only the origin does ("no-referrer"
    # would make the browser send "Origin: null", which fails the form's CSRF check).
    assert '<meta name="referrer" content="strict-origin">' in html
    assert 'data-testid="language-switch"' in html
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    assert "no-store" in response["Cache-Control"]
    assert "<script" not in html and "<style" not in html and " style=" not in html
    assert 'data-testid="totp-qr"' in html and "<svg" in html


def test_the_language_switch_comes_back_to_the_same_link_in_english(programme, admin):
    url = invitation(programme, admin)
    browser = APIClient()
    secret = secret_on_page(browser.get(url).content)
    switched = browser.post("/inbox/language/", {"language": "en", "next": url})
    assert switched.status_code == 302 and switched["Location"] == url
    english = browser.get(url).content.decode()
    assert '<html lang="en">' in english and "Set up your account" in english
    assert secret_on_page(english.encode()) == secret  # the same authenticator as before


def test_missing_or_mismatched_input_is_shown_at_the_field_and_changes_nothing(programme, admin):
    url = invitation(programme, admin)
    browser = APIClient()
    secret = secret_on_page(browser.get(url).content)
    cases = [
        ({}, "otp", "Skriv den sexsiffriga kod som din autentiseringsapp visar."),
        ({"password": NEW_PASSWORD, "password_again": NEW_PASSWORD, "otp": "12ab56"}, "otp", "sexsiffriga"),
        ({"password": NEW_PASSWORD, "password_again": "other", "otp": current_code(secret)}, "password_again", "inte"),
        ({"password": "", "password_again": "", "otp": current_code(secret)}, "password", "obligatoriskt"),
        ({"password": NEW_PASSWORD, "password_again": NEW_PASSWORD, "otp": "000000"}, "otp", "Koden stämmer inte."),
    ]
    for form, field, words in cases:
        response = browser.post(url, form)
        assert response.status_code == 400, form
        assert re.search(rf'data-testid="error-{field}">[^<]*{re.escape(words)}', response.content.decode()), form
    nora = User.objects.get(username="nora")
    assert not nora.has_usable_password()
    assert not TOTPDevice.objects.filter(user=nora, confirmed=True).exists()
    assert SetupLink.objects.get(user=nora).used_at is None


def test_a_used_link_says_so_in_the_inboxs_layout(programme, admin):
    url = invitation(programme, admin)
    SetupLink.objects.update(used_at="2026-01-01T00:00:00Z")
    response = APIClient().get(url)
    assert response.status_code == 404
    html = response.content.decode()
    assert "Länken fungerar inte" in html and "/static/inbox/inbox.css" in html
    assert APIClient().post(url, {"otp": "123456"}).status_code == 404
