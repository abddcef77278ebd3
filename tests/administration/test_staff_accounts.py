"""Staff accounts over the API, from every role's side: a programme's admins invite,
list, change roles, deactivate and reset the second factor; other roles are refused
(403), staff of other programmes are told the programme does not exist (404)."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from backend.accounts.models import Device, StaffRole
from backend.audit.models import AuditEntry
from backend.cases.models import CaseAssignment
from tests.administration.setup_links import NEW_PASSWORD, complete_setup, log_in, setup_path
from tests.conftest import device_client, staff_client
from tests.factories import STAFF_PASSWORD, CaseFactory, ProgrammeFactory, StaffDeviceSessionFactory, StaffRoleFactory

INVITE = {"username": "new-person", "first_name": "Nora", "last_name": "Ny", "roles": ["contact_person"]}


@pytest.fixture
def admin(make_staff, programme):
    return make_staff("admin", programme, StaffRole.Role.ADMIN)


def staff_url(programme_id: int, rest: str = "") -> str:
    return f"/api/v1/programmes/{programme_id}/staff{rest}"


def answers(client, programme_id: int, user_id: int) -> tuple[int, ...]:
    # Empty or harmless bodies: refused for who is asking before they are read.
    return (
        client.get(staff_url(programme_id)).status_code,
        client.post(staff_url(programme_id), {}, format="json").status_code,
        client.put(staff_url(programme_id, f"/{user_id}"), {}, format="json").status_code,
        client.post(staff_url(programme_id, f"/{user_id}/deactivate")).status_code,
        client.post(staff_url(programme_id, f"/{user_id}/reset-2fa")).status_code,
    )


@pytest.mark.parametrize("role", [StaffRole.Role.CONTACT_PERSON, StaffRole.Role.ON_CALL, StaffRole.Role.SUPERVISOR])
def test_other_roles_of_the_programme_are_forbidden(make_staff, programme, contact, role):
    staff = make_staff(f"as-{role}", programme, role)
    assert answers(staff_client(staff), programme.pk, contact.user.pk) == (403,) * 5
    assert TOTPDevice.objects.filter(user=contact.user).exists()
    assert contact.user.is_active


def test_admins_of_other_programmes_and_unknown_programmes_get_not_found(make_staff, programme, admin, contact):
    foreign_admin = make_staff("foreign-admin", ProgrammeFactory(), StaffRole.Role.ADMIN)
    assert answers(staff_client(foreign_admin), programme.pk, contact.user.pk) == (404,) * 5
    assert answers(staff_client(admin), 999999, contact.user.pk) == (404,) * 5


def test_a_member_of_another_programme_is_not_found_here(make_staff, programme, admin):
    stranger = make_staff("stranger", ProgrammeFactory(), StaffRole.Role.CONTACT_PERSON)
    client = staff_client(admin)
    assert answers(client, programme.pk, stranger.user.pk)[2:] == (404, 404, 404)


def test_defectors_and_anonymous_callers_are_refused(defector_device, programme, contact, api):
    assert answers(device_client(defector_device), programme.pk, contact.user.pk) == (403,) * 5
    assert answers(api, programme.pk, contact.user.pk) == (401,) * 5


def test_an_invited_person_sets_up_their_account_and_the_list_shows_it(admin, programme):
    client = staff_client(admin)
    response = client.post(staff_url(programme.pk), INVITE, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "setup_url", "setup_qr_svg"}
    assert body["setup_qr_svg"].startswith("data:image/svg+xml")
    assert body["setup_url"].startswith("http://testserver/inbox/setup/")

    def listed() -> dict:
        rows = client.get(staff_url(programme.pk)).json()
        return next(row for row in rows if row["id"] == body["id"])

    assert listed() | {"id": 0} == {
        "id": 0,
        "username": "new-person",
        "first_name": "Nora",
        "last_name": "Ny",
        "is_active": True,
        "roles": ["contact_person"],
        "two_factor": "pending",
    }
    _, secret = complete_setup(body["setup_url"])
    assert listed()["two_factor"] == "enrolled"
    log_in("new-person", NEW_PASSWORD, secret)
    entry = AuditEntry.objects.get(action="staff.invited")
    assert entry.actor_id == admin.user.pk
    assert entry.details == {"programme": programme.pk, "roles": ["contact_person"]}


def test_invitations_are_validated_by_field(admin, programme, contact):
    client = staff_client(admin)
    bad_role = client.post(staff_url(programme.pk), INVITE | {"roles": ["janitor"]}, format="json")
    assert bad_role.status_code == 400
    assert bad_role.json()["errors"][0]["field"].startswith("roles")
    no_roles = client.post(staff_url(programme.pk), INVITE | {"roles": []}, format="json")
    assert no_roles.json()["errors"][0]["field"] == "roles"
    taken = client.post(staff_url(programme.pk), INVITE | {"username": contact.user.username}, format="json")
    assert taken.status_code == 409


def test_a_staff_member_may_belong_to_several_programmes(make_staff, programme, admin):
    second = ProgrammeFactory()
    StaffRoleFactory(user=admin.user, programme=second, role=StaffRole.Role.ADMIN)
    person = make_staff("person", programme, StaffRole.Role.CONTACT_PERSON)
    client = staff_client(admin)
    joined = client.post(staff_url(second.pk), INVITE | {"username": "person", "roles": ["on_call"]}, format="json")
    assert joined.status_code == 201
    assert joined.json() == {"id": person.user.pk, "setup_url": None, "setup_qr_svg": None}
    assert set(StaffRole.objects.filter(user=person.user).values_list("programme_id", "role")) == {
        (programme.pk, "contact_person"),
        (second.pk, "on_call"),
    }
    # An admin who administers the person nowhere cannot pull their account in.
    outsider = make_staff("outsider-admin", ProgrammeFactory(), StaffRole.Role.ADMIN)
    refused = staff_client(outsider).post(
        staff_url(StaffRole.objects.get(user=outsider.user).programme_id),
        INVITE | {"username": "person"},
        format="json",
    )
    assert refused.status_code == 409


def test_changing_roles_replaces_them_in_this_programme_only(admin, programme, contact):
    other = ProgrammeFactory()
    StaffRoleFactory(user=contact.user, programme=other, role=StaffRole.Role.SUPERVISOR)
    response = staff_client(admin).put(
        staff_url(programme.pk, f"/{contact.user.pk}"), {"roles": ["on_call", "supervisor"]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["roles"] == ["on_call", "supervisor"]
    assert set(StaffRole.objects.filter(user=contact.user).values_list("programme_id", "role")) == {
        (programme.pk, "on_call"),
        (programme.pk, "supervisor"),
        (other.pk, "supervisor"),
    }
    entry = AuditEntry.objects.get(action="staff.roles_changed")
    assert entry.details["added"] == ["on_call", "supervisor"]
    assert entry.details["removed"] == ["contact_person"]


def test_deactivation_ends_sessions_revokes_phones_and_lists_cases_needing_a_primary(admin, programme, contact, case):
    session = staff_client(contact)
    phone = StaffDeviceSessionFactory(user=contact.user)
    assert session.get(f"/api/v1/cases/{case.pk}").status_code == 200
    response = staff_client(admin).post(staff_url(programme.pk, f"/{contact.user.pk}/deactivate"))
    assert response.status_code == 200
    assert response.json() == {"id": contact.user.pk, "account_deactivated": True, "cases_needing_primary": [case.pk]}
    assert session.get(f"/api/v1/cases/{case.pk}").status_code in (401, 403)
    assert device_client(phone).get("/api/v1/cases").status_code == 401
    assert Device.objects.get(pk=phone.device_id).is_revoked
    assert not CaseAssignment.objects.filter(case=case).exists()
    assert AuditEntry.objects.filter(action="case.unassigned", case_id=case.pk).exists()


def test_someone_who_still_works_elsewhere_loses_only_this_programme(admin, programme, contact, case):
    elsewhere = ProgrammeFactory()
    StaffRoleFactory(user=contact.user, programme=elsewhere, role=StaffRole.Role.CONTACT_PERSON)
    their_other_case = CaseFactory(programme=elsewhere, primary_contact=contact.user)
    session = staff_client(contact)
    response = staff_client(admin).post(staff_url(programme.pk, f"/{contact.user.pk}/deactivate"))
    assert response.json()["account_deactivated"] is False
    assert session.get(f"/api/v1/cases/{case.pk}").status_code == 404
    assert session.get(f"/api/v1/cases/{their_other_case.pk}").status_code == 200


def test_an_admin_cannot_deactivate_themselves(admin, programme):
    response = staff_client(admin).post(staff_url(programme.pk, f"/{admin.user.pk}/deactivate"))
    assert response.status_code == 409
    assert admin.user.is_active


def test_resetting_2fa_ends_sessions_and_gives_a_link_to_enrol_again(admin, programme, contact):
    session = staff_client(contact)
    response = staff_client(admin).post(staff_url(programme.pk, f"/{contact.user.pk}/reset-2fa"))
    assert response.status_code == 200
    assert not TOTPDevice.objects.filter(user=contact.user).exists()
    assert session.get("/api/v1/cases").status_code == 401
    _, secret = complete_setup(response.json()["setup_url"], password=None)
    log_in(contact.user.username, STAFF_PASSWORD, secret)
    assert AuditEntry.objects.filter(action="staff.2fa_reset", actor_id=admin.user.pk).exists()


def test_a_deactivated_persons_links_die_and_they_can_be_invited_afresh(admin, programme):
    client = staff_client(admin)
    invited = client.post(staff_url(programme.pk), INVITE, format="json").json()
    assert client.post(staff_url(programme.pk, f"/{invited['id']}/deactivate")).json()["account_deactivated"] is True
    assert APIClient().get(setup_path(invited["setup_url"])).status_code == 404
    again = client.post(staff_url(programme.pk), INVITE | {"first_name": "Nora-Lee"}, format="json")
    assert again.status_code == 201 and again.json()["id"] == invited["id"]
    _, secret = complete_setup(again.json()["setup_url"])
    log_in("new-person", NEW_PASSWORD, secret)
