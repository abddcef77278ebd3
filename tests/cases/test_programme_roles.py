"""The access policy's programme-role questions, asked from every role's side."""

from __future__ import annotations

import pytest

from backend.accounts.models import Programme, StaffRole, User
from backend.cases import policy
from backend.cases.services import assign_backup

ROLES = StaffRole.Role

# Who answers yes, by the role they hold in the programme. Everyone else (a supervisor of
# another programme, an inactive supervisor, staff with no role, a defector) answers no.
QUESTIONS = {
    policy.works_in_programme: {ROLES.CONTACT_PERSON, ROLES.ON_CALL, ROLES.SUPERVISOR, ROLES.ADMIN},
    policy.may_manage_programme_settings: {ROLES.SUPERVISOR, ROLES.ADMIN},
    policy.may_read_phrases: {ROLES.CONTACT_PERSON, ROLES.SUPERVISOR, ROLES.ADMIN},
    policy.may_open_cases: {ROLES.CONTACT_PERSON, ROLES.SUPERVISOR, ROLES.ADMIN},
    policy.may_be_primary_contact: {ROLES.CONTACT_PERSON},
    policy.may_be_backup_contact: {ROLES.CONTACT_PERSON, ROLES.ON_CALL},
    policy.may_break_glass: {ROLES.SUPERVISOR, ROLES.ADMIN},
}
OUTSIDERS = ["foreign_supervisor", "inactive_supervisor", "no_role", "defector"]


@pytest.fixture
def people(make_staff, programme, case) -> dict[str, User]:
    elsewhere = Programme.objects.create(name="Elsewhere")
    inactive = make_staff("inactive-supervisor", programme, ROLES.SUPERVISOR).user
    inactive.is_active = False
    inactive.save()
    found = {role: make_staff(f"as-{role}", programme, role).user for role in ROLES.values}
    return found | {
        "foreign_supervisor": make_staff("foreign", elsewhere, ROLES.SUPERVISOR).user,
        "inactive_supervisor": inactive,
        "no_role": make_staff("no-role", elsewhere).user,
        "defector": case.defector.user,
    }


@pytest.mark.parametrize("question", list(QUESTIONS), ids=lambda q: q.__name__)
def test_each_programme_question_from_each_side(people, programme, question):
    answers = {who: question(user, programme.pk) for who, user in people.items()}
    assert answers == {who: who in QUESTIONS[question] for who in people}
    assert set(OUTSIDERS) < set(people)


def test_who_may_assign_a_backup(people, case, contact, make_staff, programme):
    backup = make_staff("backup", programme, ROLES.CONTACT_PERSON).user
    assign_backup(case=case, staff=backup, actor=contact.user)
    actors = people | {
        "primary": contact.user,
        "backup": backup,
        "other_contact": make_staff("not-on-case", programme, ROLES.CONTACT_PERSON).user,
    }
    allowed = {who for who, user in actors.items() if policy.may_assign_backup(user, case)}
    assert allowed == {"primary", ROLES.SUPERVISOR, ROLES.ADMIN}

    contact.user.is_active = False
    contact.user.save()
    assert not policy.may_assign_backup(contact.user, case)


def test_the_supervisors_step_reaches_active_supervisors_of_the_programme_only(people, programme):
    assert policy.supervisor_ids(programme.pk) == [people[ROLES.SUPERVISOR].pk]


def test_programme_staff_are_those_with_any_role_there(people, programme):
    everyone = [user.pk for user in people.values()]
    in_programme = {people[role].pk for role in ROLES.values} | {people["inactive_supervisor"].pk}
    assert policy.programme_staff_ids(programme.pk, everyone) == in_programme
