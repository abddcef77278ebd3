"""Staff password guessing is limited per account (exponential back-off, capped so the
owner is never locked out for long) and per address (failures only: an office behind one
NAT address logs in all day), the same for the API's staff-phone login and the inbox's
login form."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from client.device import DeviceKeys
from tests.factories import STAFF_PASSWORD

WRONG = "not the password at all"


def api_login(staff, *, password: str, address: str = "10.0.0.1"):
    otp = staff.otp() if password == STAFF_PASSWORD else "123456"
    return APIClient(REMOTE_ADDR=address).post(
        "/api/v1/auth/staff-device",
        {"username": staff.user.username, "password": password, "otp": otp, "device": DeviceKeys().public()},
        format="json",
    )


def inbox_login(staff, *, password: str, address: str = "10.0.0.1"):
    otp = staff.otp() if password == STAFF_PASSWORD else "123456"
    client = APIClient(REMOTE_ADDR=address)
    return client.post("/inbox/login/", {"username": staff.user.username, "password": password, "otp": otp})


def test_wrong_passwords_for_one_account_from_many_addresses_are_not_all_evaluated(oncall, settings):
    with time_machine.travel(timezone.now(), tick=False):
        statuses = [api_login(oncall, password=WRONG, address=f"10.0.{n % 3}.1").status_code for n in range(60)]
        evaluated = statuses.count(401)
        assert evaluated == settings.LIVLINA_LOGIN_FREE_FAILURES
        assert statuses[evaluated:] == [429] * (60 - evaluated)
        refused = api_login(oncall, password=WRONG, address="10.0.9.1")
    assert refused.json()["type"] == "urn:livlina:problem:rate-limited"
    assert refused.json()["retry_after"] == 2
    assert refused["Retry-After"] == "2"


def test_the_back_off_doubles_and_is_capped(oncall, settings):
    settings.LIVLINA_LOGIN_BACKOFF_MAX_SECONDS = 60
    now = timezone.now()
    waits = []
    with time_machine.travel(now, tick=False) as clock:
        for _ in range(settings.LIVLINA_LOGIN_FREE_FAILURES - 1):
            assert api_login(oncall, password=WRONG).status_code == 401
        for _ in range(8):
            assert api_login(oncall, password=WRONG).status_code == 401
            refused = api_login(oncall, password=WRONG)
            assert refused.status_code == 429
            waits.append(refused.json()["retry_after"])
            clock.shift(timedelta(seconds=waits[-1]))
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]


def test_the_owner_gets_in_once_the_back_off_has_passed(oncall, settings):
    now = timezone.now()
    with time_machine.travel(now, tick=False) as clock:
        for _ in range(100):
            api_login(oncall, password=WRONG, address="10.9.9.9")
        # The right password waits too (the server cannot tell who types it)…
        assert inbox_login(oncall, password=STAFF_PASSWORD, address="10.0.0.5").status_code == 400
        # …but never longer than the cap, however many guesses came before.
        clock.shift(timedelta(seconds=settings.LIVLINA_LOGIN_BACKOFF_MAX_SECONDS + 1))
        assert inbox_login(oncall, password=STAFF_PASSWORD, address="10.0.0.5").status_code == 302
        # A success starts the count afresh.
        for _ in range(settings.LIVLINA_LOGIN_FREE_FAILURES - 1):
            assert api_login(oncall, password=WRONG).status_code == 401
        assert api_login(oncall, password=STAFF_PASSWORD).status_code == 201


def test_the_inbox_form_and_the_api_share_the_back_off(contact, settings):
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(settings.LIVLINA_LOGIN_FREE_FAILURES):
            response = inbox_login(contact, password=WRONG, address="10.1.0.1")
            assert "Fel användarnamn, lösenord eller engångskod." in response.content.decode()  # Swedish by default
        response = inbox_login(contact, password=WRONG, address="10.1.0.2")
        assert "För många försök." in response.content.decode()
        assert api_login(contact, password=STAFF_PASSWORD, address="10.1.0.3").status_code == 429


def test_another_account_is_not_held_back(contact, oncall, settings):
    for n in range(settings.LIVLINA_LOGIN_FREE_FAILURES + 3):
        api_login(contact, password=WRONG, address=f"10.2.0.{n}")
    assert api_login(oncall, password=STAFF_PASSWORD, address="10.2.1.1").status_code == 201


def test_successful_logins_do_not_count_against_the_address(contact, oncall, supervisor):
    office = "192.0.2.10"
    for _ in range(15):
        for person in (contact, oncall, supervisor):
            assert inbox_login(person, password=STAFF_PASSWORD, address=office).status_code == 302
    assert api_login(oncall, password=STAFF_PASSWORD, address=office).status_code == 201


def test_failures_from_one_address_are_limited_across_accounts(make_staff, programme):
    people = [make_staff(f"person-{n}", programme, "contact_person") for n in range(7)]
    statuses = [api_login(people[n % 7], password=WRONG, address="198.51.100.7").status_code for n in range(21)]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
    # The address is held back; the accounts are not, from elsewhere.
    assert api_login(people[0], password=STAFF_PASSWORD, address="198.51.100.8").status_code == 201
