"""The staff pages, from every role's side: a programme's admins list staff, invite
(the one-time link shown once), change roles, deactivate and reset the second factor,
through the same services as the API; everyone else is refused as the API refuses."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import Device, StaffRole, User
from backend.audit.models import AuditEntry
from backend.cases.models import CaseAssignment
from tests.administration.setup_links import NEW_PASSWORD, complete_setup, log_in
from tests.factories import CaseFactory, ProgrammeFactory, StaffDeviceSessionFactory, StaffRoleFactory
from tests.inbox.programme.conftest import refusals_look_alike

INVITE = {"first_name": "Nora", "last_name": "Ny", "username": "nora", "roles": ["contact_person"]}


def pages(programme_id: int, user_id: int) -> list[str]:
    base = f"/inbox/programmes/{programme_id}/staff/"
    return [
        base,
        f"{base}invite/",
        f"{base}{user_id}/roles/",
        f"{base}{user_id}/deactivate/",
        f"{base}{user_id}/reset-2fa/",
    ]


def setup_url_on(page: bytes) -> str:
    found = re.search(r'data-testid="setup-url">([^<]+)<', page.decode())
    assert found, page
    return found.group(1)


@pytest.mark.parametrize(
    ("role", "status"), [("admin", 200), ("supervisor", 403), ("contact_person", 403), ("on_call", 403)]
)
def test_each_role_of_the_programme_as_the_api_answers(staff_in_role, programme, contact, as_staff, role, status):
    client = as_staff(staff_in_role[role])
    assert [client.get(url).status_code for url in pages(programme.pk, contact.user.pk)] == [status] * 5
    if status == 403:
        refused = client.get(pages(programme.pk, contact.user.pk)[0]).content.decode()
        assert "Bara programmets administratörer hanterar personal." in refused


@pytest.mark.parametrize("role", ["supervisor", "contact_person", "on_call"])
def test_a_refused_write_changes_nothing(staff_in_role, programme, contact, as_staff, role):
    client = as_staff(staff_in_role[role])
    _, invite, roles, deactivate, reset = pages(programme.pk, contact.user.pk)
    assert client.post(invite, INVITE).status_code == 403
    assert client.post(roles, {"roles": ["admin"]}).status_code == 403
    assert client.post(deactivate).status_code == 403
    assert client.post(reset).status_code == 403
    assert not User.objects.filter(username="nora").exists()
    assert list(contact.user.staff_roles.values_list("role", flat=True)) == ["contact_person"]
    assert TOTPDevice.objects.filter(user=contact.user).exists()
    assert not AuditEntry.objects.filter(action__startswith="staff.").exclude(action="staff.login").exists()


def test_another_programme_looks_like_no_programme_and_strangers_look_like_nobody(
    foreign_admin, admin, programme, contact, as_staff
):
    for url in pages(programme.pk, contact.user.pk):
        refusals_look_alike(as_staff(foreign_admin), url, programme.pk)
    stranger = StaffRoleFactory(programme=ProgrammeFactory()).user
    client = as_staff(admin)
    for url in pages(programme.pk, stranger.pk)[2:]:
        assert client.get(url).status_code == 404
        assert client.post(url, {"roles": ["admin"]}).status_code == 404
    assert stranger.is_active and stranger.staff_roles.count() == 1


def test_anonymous_visitors_are_sent_to_the_login(client, programme, contact):
    for url in pages(programme.pk, contact.user.pk):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == f"/inbox/login/?next={url}"


def test_the_list_shows_names_roles_and_second_factor_state(admin, programme, contact, as_staff):
    contact.user.first_name, contact.user.last_name = "Kim", "Berg"
    contact.user.save()
    StaffRoleFactory(user=contact.user, programme=programme, role=StaffRole.Role.ON_CALL)
    pending = StaffRoleFactory(programme=programme, user__username="pending").user
    html = as_staff(admin).get(f"/inbox/programmes/{programme.pk}/staff/").content.decode()
    kim = html[html.index(f'data-user-id="{contact.user.pk}"') :]
    assert "Kim Berg" in kim and "Kontaktperson, Jour" in kim[: kim.index("</tr>")]
    assert "Aktiverad" in kim[: kim.index("</tr>")]
    waiting = html[html.index(f'data-user-id="{pending.pk}"') :]
    assert "Inte inställd än" in waiting[: waiting.index("</tr>")]
    # No way to deactivate oneself from the list.
    assert f"/staff/{admin.user.pk}/deactivate/" not in html


def test_an_invitation_shows_the_link_once_and_the_person_sets_up_their_account(admin, programme, as_staff):
    client = as_staff(admin)
    shown = client.post(f"/inbox/programmes/{programme.pk}/staff/invite/", INVITE)
    assert shown.status_code == 200 and shown["Cache-Control"] == "no-store"
    html = shown.content.decode()
    assert "<svg" in html and "Nora Ny är inbjuden" in html
    nora = User.objects.get(username="nora")
    assert (nora.first_name, nora.last_name, nora.has_usable_password()) == ("Nora", "Ny", False)
    assert list(nora.staff_roles.values_list("programme_id", "role")) == [(programme.pk, "contact_person")]
    invited = AuditEntry.objects.get(action="staff.invited")
    assert invited.actor_id == admin.user.pk and invited.target == f"user:{nora.pk}"

    _, secret = complete_setup(setup_url_on(shown.content))
    log_in("nora", NEW_PASSWORD, secret)
    listed = client.get(f"/inbox/programmes/{programme.pk}/staff/").content.decode()
    row = listed[listed.index(f'data-user-id="{nora.pk}"') :]
    assert "Aktiverad" in row[: row.index("</tr>")]


def test_an_existing_account_from_a_programme_the_admin_also_runs_just_joins(make_staff, admin, programme, as_staff):
    elsewhere = ProgrammeFactory()
    StaffRoleFactory(user=admin.user, programme=elsewhere, role=StaffRole.Role.ADMIN)
    colleague = make_staff("colleague", elsewhere, StaffRole.Role.CONTACT_PERSON)
    response = as_staff(admin).post(
        f"/inbox/programmes/{programme.pk}/staff/invite/", INVITE | {"username": "colleague"}, follow=True
    )
    assert response.status_code == 200
    assert "redan ett konto" in response.content.decode()
    assert colleague.user.staff_roles.filter(programme=programme, role="contact_person").exists()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"roles": []}, "roles", "Välj minst en roll."),
        ({"roles": ["king"]}, "roles", "king"),
        ({"username": "två ord"}, "username", "inga mellanslag"),
        ({"first_name": ""}, "first_name", "Det här fältet är obligatoriskt."),
    ],
)
def test_bad_input_shows_the_form_again_with_the_error_at_the_field(admin, programme, as_staff, change, field, words):
    response = as_staff(admin).post(f"/inbox/programmes/{programme.pk}/staff/invite/", INVITE | change)
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(rf'data-testid="error-{field}">[^<]*{re.escape(words)}', html), html
    assert 'value="Nora"' in html or field == "first_name"
    assert not User.objects.filter(username__in=["nora", "två ord"]).exists()
    assert not AuditEntry.objects.filter(action="staff.invited").exists()


def test_a_taken_username_is_refused_at_the_field(admin, contact, programme, as_staff):
    client = as_staff(admin)
    url = f"/inbox/programmes/{programme.pk}/staff/invite/"
    colleague = client.post(url, INVITE | {"username": "contact"})
    assert colleague.status_code == 409
    assert 'data-testid="error-username">Personen arbetar redan i programmet.' in colleague.content.decode()
    # Someone the admin does not administer anywhere: their account is not the admin's to add.
    stranger = StaffRoleFactory(programme=ProgrammeFactory(), user__username="stranger").user
    taken = client.post(url, INVITE | {"username": "stranger"})
    assert taken.status_code == 409
    assert 'data-testid="error-username">Användarnamnet är upptaget.' in taken.content.decode()
    assert not stranger.staff_roles.filter(programme=programme).exists()
    assert not AuditEntry.objects.filter(action="staff.invited").exists()


def test_roles_are_changed_and_audited(admin, contact, programme, as_staff):
    client = as_staff(admin)
    url = f"/inbox/programmes/{programme.pk}/staff/{contact.user.pk}/roles/"
    form = client.get(url).content.decode()
    assert re.search(r'value="contact_person"[^>]*checked', form)
    saved = client.post(url, {"roles": ["on_call", "supervisor"]}, follow=True)
    assert saved.redirect_chain == [(f"/inbox/programmes/{programme.pk}/staff/", 302)]
    assert 'data-testid="flash"' in saved.content.decode()
    assert sorted(contact.user.staff_roles.values_list("role", flat=True)) == ["on_call", "supervisor"]
    entry = AuditEntry.objects.get(action="staff.roles_changed")
    assert entry.actor_id == admin.user.pk
    assert entry.details == {
        "programme": programme.pk,
        "added": ["on_call", "supervisor"],
        "removed": ["contact_person"],
    }

    refused = client.post(url, {"roles": []})
    assert refused.status_code == 400 and 'data-testid="error-roles">Välj minst en roll.' in refused.content.decode()
    assert sorted(contact.user.staff_roles.values_list("role", flat=True)) == ["on_call", "supervisor"]


def test_deactivating_asks_first_then_ends_sessions_phones_and_lists_the_cases(admin, contact, programme, as_staff):
    case = CaseFactory(programme=programme, primary_contact=contact.user, alias="Falken")
    phone = StaffDeviceSessionFactory(user=contact.user)
    their_browser = as_staff(contact)
    client = as_staff(admin)
    url = f"/inbox/programmes/{programme.pk}/staff/{contact.user.pk}/deactivate/"

    confirm = client.get(url)
    assert confirm.status_code == 200 and "Inaktivera contact?" in confirm.content.decode()
    contact.user.refresh_from_db()
    assert contact.user.is_active  # asking changes nothing

    done = client.post(url)
    assert done.status_code == 200
    html = done.content.decode()
    assert 'data-testid="account-closed"' in html
    assert re.search(r'data-testid="orphaned-cases"><li>Falken</li>', html)
    contact.user.refresh_from_db()
    assert not contact.user.is_active and not contact.user.staff_roles.exists()
    assert not CaseAssignment.objects.filter(case=case, staff=contact.user).exists()
    assert Device.objects.get(pk=phone.device_id).revoked_at is not None
    assert their_browser.get("/inbox/").status_code == 302  # their session is over
    entry = AuditEntry.objects.get(action="staff.deactivated")
    assert entry.actor_id == admin.user.pk and entry.details["account_deactivated"] is True


def test_someone_who_works_elsewhere_keeps_their_account(admin, contact, programme, as_staff):
    StaffRoleFactory(user=contact.user, programme=ProgrammeFactory(), role=StaffRole.Role.CONTACT_PERSON)
    html = as_staff(admin).post(f"/inbox/programmes/{programme.pk}/staff/{contact.user.pk}/deactivate/").content
    assert b'data-testid="account-kept"' in html and b'data-testid="no-orphaned-cases"' in html
    contact.user.refresh_from_db()
    assert contact.user.is_active and contact.user.staff_roles.count() == 1


def test_an_admin_cannot_deactivate_themselves(admin, programme, as_staff):
    client = as_staff(admin)
    url = f"/inbox/programmes/{programme.pk}/staff/{admin.user.pk}/deactivate/"
    page = client.get(url).content.decode()
    assert "Du kan inte inaktivera dig själv." in page and 'class="danger"' not in page
    assert client.post(url).status_code == 409
    assert admin.user.staff_roles.exists()
    assert not AuditEntry.objects.filter(action="staff.deactivated").exists()


def test_resetting_two_step_verification_asks_first_then_shows_a_new_link_once(admin, contact, programme, as_staff):
    their_browser = as_staff(contact)
    client = as_staff(admin)
    url = f"/inbox/programmes/{programme.pk}/staff/{contact.user.pk}/reset-2fa/"
    assert client.get(url).status_code == 200
    assert TOTPDevice.objects.filter(user=contact.user).exists()

    shown = client.post(url)
    assert shown.status_code == 200 and shown["Cache-Control"] == "no-store"
    assert not TOTPDevice.objects.filter(user=contact.user, confirmed=True).exists()
    assert their_browser.get("/inbox/").status_code == 302
    entry = AuditEntry.objects.get(action="staff.2fa_reset")
    assert entry.actor_id == admin.user.pk and entry.target == f"user:{contact.user.pk}"

    link = setup_url_on(shown.content)
    setup_page = client.get(link[link.index("/inbox/") :]).content.decode()
    assert 'name="password"' not in setup_page  # the password stays; only the authenticator is new
    _, secret = complete_setup(link, password=None)
    from tests.factories import STAFF_PASSWORD

    log_in("contact", STAFF_PASSWORD, secret)
