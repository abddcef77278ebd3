"""A programme's on-call page and its forms, from every role's side: everyone who works
in the programme reads who is on call and where nobody is; supervisors and admins add,
change and delete rotations and overrides (through ``crisis.oncall_services``, audited
with the actor). People are chosen by name, times typed in the inbox's zone."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from backend.accounts.models import StaffRole
from backend.audit.models import AuditEntry
from backend.crisis.models import OnCallOverride, OnCallRotation
from tests.conftest import staff_client
from tests.inbox.programme.conftest import comparable, error_next_to

ZONE = ZoneInfo(settings.LIVLINA_INBOX_TIME_ZONE)


def oncall_url(programme_id: int, rest: str = "") -> str:
    return f"/inbox/programmes/{programme_id}/oncall/{rest}"


@pytest.fixture
def named(oncall, contact):
    oncall.user.first_name, oncall.user.last_name = "Alex", "Jour"
    oncall.user.save()
    contact.user.first_name, contact.user.last_name = "Kim", "Kontakt"
    contact.user.save()


@pytest.fixture
def override(rotation, contact) -> OnCallOverride:
    start = timezone.now() + dt.timedelta(days=1)
    return OnCallOverride.objects.create(
        rotation=rotation, user=contact.user, starts_at=start, ends_at=start + dt.timedelta(hours=12)
    )


def rotation_body(*members: int, **changes) -> dict:
    body = {"name": "Natt", "start_date": "2026-12-07", "handoff_time": "09:00", "shift_days": 3}
    body |= {f"member_{turn}": member for turn, member in enumerate(members, start=1)}
    return body | changes


def audited(action: str, actor) -> bool:
    return AuditEntry.objects.filter(action=action, actor_id=actor.user.pk).exists()


# --- who may ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "change"),
    [
        (StaffRole.Role.CONTACT_PERSON, 403),
        (StaffRole.Role.ON_CALL, 403),
        (StaffRole.Role.SUPERVISOR, 200),
        (StaffRole.Role.ADMIN, 200),
    ],
)
def test_everyone_reads_supervisors_and_admins_change(make_staff, programme, rotation, override, role, change):
    client = staff_client(make_staff(f"as-{role}", programme, role))
    page = client.get(oncall_url(programme.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-rotation-id="{rotation.pk}"' in html and f'data-override-id="{override.pk}"' in html
    assert ('href="/inbox/programmes/' in html and "/oncall/rotations/new/" in html) == (change == 200)
    forms = [
        "rotations/new/",
        f"rotations/{rotation.pk}/",
        f"rotations/{rotation.pk}/delete",
        "overrides/new/",
        f"overrides/{override.pk}/",
        f"overrides/{override.pk}/delete",
    ]
    assert [client.get(oncall_url(programme.pk, form)).status_code for form in forms] == [change] * len(forms)


def test_a_role_that_may_not_change_nothing(make_staff, programme, rotation, override, oncall):
    client = staff_client(make_staff("as-contact", programme, StaffRole.Role.CONTACT_PERSON))
    writes = [
        ("rotations/new/", rotation_body(oncall.user.pk)),
        (f"rotations/{rotation.pk}/", rotation_body(oncall.user.pk)),
        (f"rotations/{rotation.pk}/delete", {}),
        (f"overrides/{override.pk}/delete", {}),
    ]
    responses = [client.post(oncall_url(programme.pk, url), body) for url, body in writes]
    assert [r.status_code for r in responses] == [403] * len(writes)
    assert "Bara arbetsledare och administratörer ändrar jouren." in responses[0].content.decode()
    assert list(OnCallRotation.objects.values_list("pk", "name")) == [(rotation.pk, "jour")]
    assert OnCallOverride.objects.filter(pk=override.pk).exists()


def test_another_programmes_staff_find_nothing(foreign_supervisor, programme, rotation, override):
    foreign = staff_client(foreign_supervisor)
    page, missing = foreign.get(oncall_url(programme.pk)), foreign.get(oncall_url(999999))
    assert page.status_code == missing.status_code == 404
    assert comparable(page.content, oncall_url(programme.pk)) == comparable(missing.content, oncall_url(999999))
    # Through their own programme, another programme's rotation is as missing as none.
    own = foreign_supervisor.user.staff_roles.get().programme_id
    theirs = foreign.get(oncall_url(own, f"rotations/{rotation.pk}/"))
    none = foreign.get(oncall_url(own, "rotations/999999/"))
    assert theirs.status_code == none.status_code == 404
    assert comparable(theirs.content, f"rotations/{rotation.pk}/") == comparable(none.content, "rotations/999999/")
    assert foreign.post(oncall_url(own, f"overrides/{override.pk}/delete")).status_code == 404
    assert OnCallOverride.objects.filter(pk=override.pk).exists()


def test_anonymous_visitors_are_sent_to_the_login(client, programme, rotation):
    url = oncall_url(programme.pk)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"/inbox/login/?next={url}"
    assert client.post(oncall_url(programme.pk, f"rotations/{rotation.pk}/delete")).status_code == 302
    assert OnCallRotation.objects.filter(pk=rotation.pk).exists()


# --- reading ------------------------------------------------------------------------------


def test_the_page_says_who_is_on_call_and_where_nobody_is(named, programme, contact, oncall, as_staff):
    # Alex is on call by a rotation that starts in three days; an override covers part of the gap.
    now = timezone.now()
    start = timezone.localtime(now, ZONE).date() + dt.timedelta(days=3)
    rotation = OnCallRotation.objects.create(
        programme=programme, name="Vecka", members=[oncall.user.pk, contact.user.pk], start_date=start, shift_days=7
    )
    OnCallOverride.objects.create(
        rotation=rotation, user=contact.user, starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=5)
    )

    html = as_staff(contact).get(oncall_url(programme.pk)).content.decode()

    assert "Kim Kontakt har jour nu." in html
    assert re.search(r"Ingen har jour från \d{4}-\d\d-\d\d \d\d:\d\d till \d{4}-\d\d-\d\d 08:00\.", html)
    turns = re.search(r'<ol class="turns">(.*?)</ol>', html).group(1)
    assert re.findall(r"<li>([^<]+)</li>", turns) == ["Alex Jour", "Kim Kontakt"]
    assert f"7 dagar från {start:%Y-%m-%d}, överlämning klockan 08:00" in html
    assert "undantag" in html  # Kim is on call now through an override


def test_a_covered_programme_says_so(named, programme, rotation, contact):
    html = staff_client(contact).get(oncall_url(programme.pk)).content.decode()
    assert "Alex Jour har jour nu." in html and "Jouren är täckt de kommande 14 dagarna." in html


# --- rotations ----------------------------------------------------------------------------


def test_a_rotation_is_added_with_people_chosen_by_name(named, supervisor, programme, oncall, contact):
    client = staff_client(supervisor)
    form = client.get(oncall_url(programme.pk, "rotations/new/")).content.decode()
    assert f'<option value="{oncall.user.pk}">Alex Jour</option>' in form
    assert 'type="date"' in form and 'type="time"' in form

    response = client.post(oncall_url(programme.pk, "rotations/new/"), rotation_body(contact.user.pk, oncall.user.pk))

    assert response.status_code == 302 and response["Location"] == oncall_url(programme.pk)
    rotation = OnCallRotation.objects.get(name="Natt")
    assert rotation.members == [contact.user.pk, oncall.user.pk]
    assert (rotation.start_date, rotation.handoff_time, rotation.shift_days) == (dt.date(2026, 12, 7), dt.time(9), 3)
    assert rotation.timezone == settings.LIVLINA_INBOX_TIME_ZONE
    assert audited("oncall.rotation_added", supervisor)


@pytest.mark.parametrize(
    ("members", "changes", "field", "message"),
    [
        ((), {}, "id_member_1", "Välj minst en person."),
        (("ONCALL", "ONCALL"), {}, "id_member_2", "Personen har redan en tur."),
        (("ONCALL",), {"shift_days": 0}, "id_shift_days", "större än eller lika med 1"),
        (("ONCALL",), {"start_date": "7 december"}, "id_start_date", "Fyll i ett giltigt datum."),
        (("ONCALL",), {"name": ""}, "id_name", "Det här fältet är obligatoriskt."),
        ((999999,), {}, "id_member_1", "Välj ett giltigt alternativ."),
    ],
)
def test_a_rotation_with_bad_input_shows_the_error_and_adds_nothing(
    supervisor, programme, oncall, members, changes, field, message
):
    people = [oncall.user.pk if member == "ONCALL" else member for member in members]
    response = staff_client(supervisor).post(
        oncall_url(programme.pk, "rotations/new/"), rotation_body(*people, **changes)
    )
    assert response.status_code == 400
    assert message in error_next_to(response.content.decode(), field)
    assert not OnCallRotation.objects.exists() and not audited("oncall.rotation_added", supervisor)


def test_a_rotation_is_changed_and_deleted_with_its_overrides(
    named, admin, programme, rotation, override, oncall, contact
):
    client = staff_client(admin)
    form = client.get(oncall_url(programme.pk, f"rotations/{rotation.pk}/")).content.decode()
    assert re.search(rf'<option value="{oncall.user.pk}" selected>Alex Jour</option>', form)
    assert 'value="jour"' in form and 'value="2026-01-01"' in form and 'value="08:00"' in form

    changed = client.post(
        oncall_url(programme.pk, f"rotations/{rotation.pk}/"),
        rotation_body(oncall.user.pk, contact.user.pk, name="Dygn", shift_days=1),
    )

    assert changed.status_code == 302
    rotation.refresh_from_db()
    assert (rotation.name, rotation.members, rotation.shift_days) == ("Dygn", [oncall.user.pk, contact.user.pk], 1)
    assert audited("oncall.rotation_changed", admin)

    confirm = client.get(oncall_url(programme.pk, f"rotations/{rotation.pk}/delete")).content.decode()
    assert "Ta bort jourschemat ”Dygn”?" in confirm and "Dess kommande undantag tas också bort." in confirm
    assert client.post(oncall_url(programme.pk, f"rotations/{rotation.pk}/delete")).status_code == 302
    assert not OnCallRotation.objects.exists() and not OnCallOverride.objects.exists()
    assert audited("oncall.rotation_deleted", admin)


def test_changing_a_rotation_with_bad_input_changes_nothing(supervisor, programme, rotation, oncall):
    response = staff_client(supervisor).post(
        oncall_url(programme.pk, f"rotations/{rotation.pk}/"), rotation_body(oncall.user.pk, handoff_time="25:00")
    )
    assert response.status_code == 400
    assert error_next_to(response.content.decode(), "id_handoff_time")
    rotation.refresh_from_db()
    assert (rotation.name, rotation.handoff_time) == ("jour", dt.time(8))


# --- overrides ----------------------------------------------------------------------------


def test_an_override_is_added_in_the_inbox_zone(named, supervisor, programme, rotation, contact):
    client = staff_client(supervisor)
    form = client.get(oncall_url(programme.pk, "overrides/new/")).content.decode()
    assert 'type="datetime-local"' in form and f'<option value="{contact.user.pk}">Kim Kontakt</option>' in form
    day = timezone.localtime(timezone.now(), ZONE).date() + dt.timedelta(days=10)
    starts, ends = dt.datetime.combine(day, dt.time(18), ZONE), dt.datetime.combine(day, dt.time(23, 30), ZONE)

    response = client.post(
        oncall_url(programme.pk, "overrides/new/"),
        {
            "rotation": rotation.pk,
            "user": contact.user.pk,
            "starts_at": f"{starts:%Y-%m-%dT%H:%M}",
            "ends_at": f"{ends:%Y-%m-%dT%H:%M}",
        },
    )

    assert response.status_code == 302
    override = OnCallOverride.objects.get()
    assert (override.starts_at, override.ends_at) == (starts, ends)
    assert (override.rotation, override.user) == (rotation, contact.user)
    assert audited("oncall.override_added", supervisor)
    listed = client.get(oncall_url(programme.pk)).content.decode()
    row = re.search(rf'data-override-id="{override.pk}">(.*?)</tr>', listed, re.S).group(1)
    assert f"{starts:%Y-%m-%d %H:%M}" in row and f"{ends:%Y-%m-%d %H:%M}" in row and "Kim Kontakt" in row


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ends_at": "2026-12-24T17:00"}, "id_ends_at", "Slutet måste komma efter början."),
        ({"starts_at": ""}, "id_starts_at", "Det här fältet är obligatoriskt."),
        ({"user": 999999}, "id_user", "Välj ett giltigt alternativ."),
        ({"rotation": 999999}, "id_rotation", "Välj ett giltigt alternativ."),
    ],
)
def test_an_override_with_bad_input_shows_the_error_and_adds_nothing(
    supervisor, programme, rotation, contact, changes, field, message
):
    body = {"rotation": rotation.pk, "user": contact.user.pk, "starts_at": "2026-12-24T18:00"}
    body |= {"ends_at": "2026-12-25T08:00"} | changes
    response = staff_client(supervisor).post(oncall_url(programme.pk, "overrides/new/"), body)
    assert response.status_code == 400
    assert message in error_next_to(response.content.decode(), field)
    assert not OnCallOverride.objects.exists()


def test_an_override_is_changed_and_deleted(named, supervisor, programme, rotation, override, oncall):
    client = staff_client(supervisor)
    form = client.get(oncall_url(programme.pk, f"overrides/{override.pk}/")).content.decode()
    shown_start = timezone.localtime(override.starts_at, ZONE).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{shown_start}"' in form

    changed = client.post(
        oncall_url(programme.pk, f"overrides/{override.pk}/"),
        {
            "rotation": rotation.pk,
            "user": oncall.user.pk,
            "starts_at": "2027-01-02T08:00",
            "ends_at": "2027-01-03T08:00",
        },
    )

    assert changed.status_code == 302
    override.refresh_from_db()
    assert (override.user_id, override.starts_at) == (oncall.user.pk, dt.datetime(2027, 1, 2, 8, tzinfo=ZONE))
    assert audited("oncall.override_changed", supervisor)
    confirm = client.get(oncall_url(programme.pk, f"overrides/{override.pk}/delete")).content.decode()
    assert "Alex Jour har jouren i ”jour” från 2027-01-02 08:00 till 2027-01-03 08:00." in confirm
    assert client.post(oncall_url(programme.pk, f"overrides/{override.pk}/delete")).status_code == 302
    assert not OnCallOverride.objects.exists() and audited("oncall.override_deleted", supervisor)
