"""``create_admin`` and the one-time setup page: a new programme can be run from an empty
database without a shell, and no secret ever travels on a command line."""

from __future__ import annotations

import io
import re

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from backend.accounts.models import Programme, StaffRole, User
from backend.audit.models import AuditEntry
from tests.administration.setup_links import (
    NEW_PASSWORD,
    complete_setup,
    current_code,
    log_in,
    secret_on_page,
    setup_path,
)


def create_admin(*args: str) -> str:
    out = io.StringIO()
    call_command("create_admin", *args, stdout=out)
    return out.getvalue()


def link_in(output: str) -> str:
    return next(line for line in output.splitlines() if "/inbox/setup/" in line)


def test_create_admin_makes_the_programme_an_admin_and_a_link_that_sets_them_up(db):
    output = create_admin("--programme", "Malmö exit", "--username", "ada")
    programme = Programme.objects.get(name="Malmö exit")
    ada = User.objects.get(username="ada")
    assert StaffRole.objects.filter(user=ada, programme=programme, role=StaffRole.Role.ADMIN).exists()
    assert not ada.has_usable_password()
    _, secret = complete_setup(link_in(output))
    admin = log_in("ada", NEW_PASSWORD, secret)
    assert admin.get(f"/api/v1/programmes/{programme.pk}/staff").status_code == 200
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"programme.created", "staff.setup_link_issued", "staff.setup_completed"} <= actions


def test_create_admin_reuses_an_existing_programme(db):
    create_admin("--programme", "Malmö exit", "--username", "ada")
    create_admin("--programme", "Malmö exit", "--username", "bo")
    assert Programme.objects.filter(name="Malmö exit").count() == 1
    assert StaffRole.objects.filter(role=StaffRole.Role.ADMIN).count() == 2


def test_create_admin_takes_no_secret_on_the_command_line(db):
    with pytest.raises(CommandError):
        call_command("create_admin", "--programme", "P", "--username", "ada", "--password", "hunter2hunter2")


def test_the_link_works_once(db):
    url = link_in(create_admin("--programme", "P", "--username", "ada"))
    complete_setup(url)
    again = APIClient().get(setup_path(url))
    assert again.status_code == 404
    assert b'data-testid="setup-gone"' in again.content


def test_the_link_expires_after_24_hours(db):
    url = link_in(create_admin("--programme", "P", "--username", "ada"))
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=24, minutes=1)):
        assert APIClient().get(setup_path(url)).status_code == 404
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=23)):
        assert APIClient().get(setup_path(url)).status_code == 200


def test_a_new_link_retires_the_old_one(db):
    first = link_in(create_admin("--programme", "P", "--username", "ada"))
    second = link_in(create_admin("--programme", "P", "--username", "ada"))
    assert APIClient().get(setup_path(first)).status_code == 404
    assert APIClient().get(setup_path(second)).status_code == 200


def test_a_weak_password_or_a_wrong_code_is_refused_and_the_link_still_works(db):
    url = link_in(create_admin("--programme", "P", "--username", "ada"))
    client = APIClient()
    secret = secret_on_page(client.get(setup_path(url)).content)
    weak = client.post(
        setup_path(url), {"password": "password", "password_again": "password", "otp": current_code(secret)}
    )
    assert weak.status_code == 400
    # Django's own validators speak the page's language (Swedish unless chosen otherwise).
    assert re.search(r'data-testid="error-password">[^<]*för kort', weak.content.decode())
    differ = {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD + "x", "otp": current_code(secret)}
    assert client.post(setup_path(url), differ).status_code == 400
    wrong = {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD, "otp": "000000"}
    right = {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD, "otp": current_code(secret)}
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert client.post(setup_path(url), wrong).status_code == 400
        assert not User.objects.get(username="ada").has_usable_password()
        # The page keeps showing the same authenticator until the link is used.
        assert secret_on_page(client.get(setup_path(url)).content) == secret
        # A wrong code slows the next tries down (django-otp's throttle, kept across requests).
        assert client.post(setup_path(url), right).status_code == 400
        clock.shift(5)
        complete_setup(url)


def test_the_setup_page_has_no_inline_script_or_style(db):
    url = link_in(create_admin("--programme", "P", "--username", "ada"))
    page = APIClient().get(setup_path(url)).content
    assert b"<script" not in page
    assert b"<style" not in page
    assert b" style=" not in page


def test_an_unfinished_account_cannot_log_in(db):
    create_admin("--programme", "P", "--username", "ada")
    response = APIClient().post("/inbox/login/", {"username": "ada", "password": "", "otp": "123456"})
    assert response.status_code == 400
