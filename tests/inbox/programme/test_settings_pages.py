"""Working hours, absences and alert limits, from every role's side: a programme's
supervisors set them with forms a person can fill in, through the same services as the
API; everyone else is refused as the API refuses them."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from backend.accounts.models import Programme, StaffRole
from backend.audit.models import AuditEntry
from backend.crisis.models import WorkingHours
from tests.factories import ProgrammeFactory, StaffRoleFactory
from tests.inbox.programme.conftest import refusals_look_alike

# A holiday three weeks from now (the overview lists absences still to come).
HOLIDAY = (timezone.localdate() + dt.timedelta(days=20), timezone.localdate() + dt.timedelta(days=36))
HOURS = {
    "weekdays": ["1", "2", "3", "4"],
    "start": "07:30",
    "end": "16:00",
    "timezone": "Europe/Helsinki",
    "absences-TOTAL_FORMS": "2",
    "absences-INITIAL_FORMS": "0",
    "absences-0-first_day": HOLIDAY[0].isoformat(),
    "absences-0-last_day": HOLIDAY[1].isoformat(),
    "absences-1-first_day": "",
    "absences-1-last_day": "",
}


def pages(programme_id: int, user_id: int) -> list[str]:
    base = f"/inbox/programmes/{programme_id}/settings/"
    return [base, f"{base}working-hours/{user_id}/"]


@pytest.mark.parametrize(
    ("role", "status"), [("supervisor", 200), ("admin", 403), ("contact_person", 403), ("on_call", 403)]
)
def test_each_role_of_the_programme_as_the_api_answers(staff_in_role, programme, contact, as_staff, role, status):
    client = as_staff(staff_in_role[role])
    assert [client.get(url).status_code for url in pages(programme.pk, contact.user.pk)] == [status, status]
    if status == 403:
        assert client.post(pages(programme.pk, contact.user.pk)[1], HOURS).status_code == 403
        limits = client.post(f"/inbox/programmes/{programme.pk}/settings/alert-limits/", {"ack_timeout_minutes": 5})
        assert limits.status_code == 403
        assert "Bara programmets arbetsledare ställer in arbetstider och larmgränser." in limits.content.decode()
        assert not WorkingHours.objects.exists()
        assert not AuditEntry.objects.filter(action__in=["staff.working_hours_set", "programme.alert_limits_set"])


def test_another_programme_looks_like_no_programme(foreign_supervisor, supervisor, programme, contact, as_staff):
    for url in pages(programme.pk, contact.user.pk):
        refusals_look_alike(as_staff(foreign_supervisor), url, programme.pk)
    stranger = StaffRoleFactory(programme=ProgrammeFactory()).user
    client = as_staff(supervisor)
    assert client.get(pages(programme.pk, stranger.pk)[1]).status_code == 404
    assert client.post(pages(programme.pk, stranger.pk)[1], HOURS).status_code == 404
    assert not WorkingHours.objects.exists()


def test_anonymous_visitors_are_sent_to_the_login(client, programme, contact):
    for url in pages(programme.pk, contact.user.pk):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == f"/inbox/login/?next={url}"


def test_the_overview_lists_contact_persons_with_their_hours(supervisor, contact, oncall, programme, as_staff):
    contact.user.first_name, contact.user.last_name = "Kim", "Berg"
    contact.user.save()
    html = as_staff(supervisor).get(pages(programme.pk, contact.user.pk)[0]).content.decode()
    rows = re.findall(r'data-testid="hours-row" data-user-id="(\d+)"', html)
    assert rows == [str(contact.user.pk)]  # contact persons only: theirs is the hours that matter
    assert "Kim Berg" in html and "måndag\u2013fredag" in html and "08:00\u201317:00" in html
    minutes = int(programme.ack_timeout.total_seconds() // 60)
    assert re.search(rf'name="ack_timeout_minutes" value="{minutes}"', html)


def test_working_hours_are_set_with_the_form_and_audited(supervisor, contact, programme, as_staff):
    client = as_staff(supervisor)
    url = pages(programme.pk, contact.user.pk)[1]
    form = client.get(url).content.decode()
    assert re.search(r'<option value="Europe/Stockholm" selected>Stockholm</option>', form)
    assert len(re.findall(r'type="checkbox" name="weekdays" value="\d"[^>]*checked', form)) == 5

    saved = client.post(url, HOURS, follow=True)
    assert saved.redirect_chain == [(f"/inbox/programmes/{programme.pk}/settings/", 302)]
    hours = WorkingHours.objects.get(user=contact.user)
    assert (hours.weekdays, hours.start, hours.end, hours.timezone) == (
        [1, 2, 3, 4],
        dt.time(7, 30),
        dt.time(16, 0),
        "Europe/Helsinki",
    )
    assert hours.absences == [{"from": HOLIDAY[0].isoformat(), "until": HOLIDAY[1].isoformat()}]
    entry = AuditEntry.objects.get(action="staff.working_hours_set")
    assert entry.actor_id == supervisor.user.pk and entry.target == f"user:{contact.user.pk}"
    listed = client.get(pages(programme.pk, contact.user.pk)[0]).content.decode()
    assert "måndag\u2013torsdag" in listed and "07:30\u201316:00" in listed
    assert f"{HOLIDAY[0].isoformat()} \u2013 {HOLIDAY[1].isoformat()}" in listed

    # The saved absence comes back as a row that can be removed.
    again = client.get(url).content.decode()
    assert f'name="absences-0-first_day" value="{HOLIDAY[0].isoformat()}"' in again
    removed = client.post(
        url,
        HOURS
        | {
            "absences-TOTAL_FORMS": "3",
            "absences-INITIAL_FORMS": "1",
            "absences-0-DELETE": "on",
            "absences-2-first_day": "",
            "absences-2-last_day": "",
        },
    )
    assert removed.status_code == 302
    assert WorkingHours.objects.get(user=contact.user).absences == []


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"end": "07:00"}, "end", "Arbetet måste sluta efter att det har börjat"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
        ({"start": "25:00"}, "start", "Fyll i en giltig tid."),
        ({"absences-0-last_day": (HOLIDAY[0] - dt.timedelta(days=1)).isoformat()}, "last_day", "Sista dagen kan inte"),
        ({"absences-0-last_day": ""}, "last_day", "Fyll i sista dagen också."),
        ({"weekdays": ["8"]}, "weekdays", "8"),
    ],
)
def test_bad_input_shows_the_form_again_with_the_error_at_the_field(
    supervisor, contact, programme, as_staff, change, field, words
):
    response = as_staff(supervisor).post(pages(programme.pk, contact.user.pk)[1], HOURS | change)
    assert response.status_code == 400
    assert re.search(rf'data-testid="error-{field}">[^<]*{re.escape(words)}', response.content.decode())
    assert not WorkingHours.objects.exists()
    assert not AuditEntry.objects.filter(action="staff.working_hours_set").exists()


def test_alert_limits_are_set_and_audited(supervisor, programme, as_staff):
    client = as_staff(supervisor)
    url = f"/inbox/programmes/{programme.pk}/settings/alert-limits/"
    saved = client.post(url, {"ack_timeout_minutes": "20", "unanswered_limit_minutes": "45"}, follow=True)
    assert saved.redirect_chain == [(f"/inbox/programmes/{programme.pk}/settings/", 302)]
    assert "Larmgränserna är sparade." in saved.content.decode()
    programme = Programme.objects.get(pk=programme.pk)
    assert (programme.ack_timeout, programme.unanswered_limit) == (dt.timedelta(minutes=20), dt.timedelta(minutes=45))
    entry = AuditEntry.objects.get(action="programme.alert_limits_set")
    assert entry.actor_id == supervisor.user.pk
    assert entry.details == {"ack_timeout_minutes": 20, "unanswered_limit_minutes": 45}
    assert client.get(url).status_code == 405


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"ack_timeout_minutes": "0", "unanswered_limit_minutes": "45"}, "ack_timeout_minutes"),
        ({"ack_timeout_minutes": "20", "unanswered_limit_minutes": "1441"}, "unanswered_limit_minutes"),
        ({"ack_timeout_minutes": "tjugo", "unanswered_limit_minutes": "45"}, "ack_timeout_minutes"),
        ({"unanswered_limit_minutes": "45"}, "ack_timeout_minutes"),
    ],
)
def test_bad_limits_change_nothing(supervisor, programme, as_staff, form, field):
    before = Programme.objects.get(pk=programme.pk)
    response = as_staff(supervisor).post(f"/inbox/programmes/{programme.pk}/settings/alert-limits/", form)
    assert response.status_code == 400
    assert f'data-testid="error-{field}"' in response.content.decode()
    after = Programme.objects.get(pk=programme.pk)
    assert (after.ack_timeout, after.unanswered_limit) == (before.ack_timeout, before.unanswered_limit)
    assert not AuditEntry.objects.filter(action="programme.alert_limits_set").exists()


def test_someone_away_today_is_marked(supervisor, contact, programme, as_staff):
    client = as_staff(supervisor)
    url = pages(programme.pk, contact.user.pk)[0]
    assert "frånvarande i dag" not in client.get(url).content.decode()
    # Today as the staff's own clock has it, which is the inbox's time zone, not UTC.
    today = timezone.localdate(timezone=ZoneInfo(settings.LIVLINA_INBOX_TIME_ZONE)).isoformat()
    client.post(
        pages(programme.pk, contact.user.pk)[1], HOURS | {"absences-1-first_day": today, "absences-1-last_day": today}
    )
    assert "frånvarande i dag" in client.get(url).content.decode()


def test_away_today_is_the_day_of_the_inbox_time_zone_after_midnight_there(supervisor, contact, programme, as_staff):
    # 23:30 UTC on 3 December is 00:30 on 4 December in Stockholm: an absence of the 3rd
    # is over, one of the 4th has begun.
    client = as_staff(supervisor)
    url, form = pages(programme.pk, contact.user.pk)
    with time_machine.travel(dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.UTC), tick=False):
        client.post(form, HOURS | {"absences-1-first_day": "2026-12-03", "absences-1-last_day": "2026-12-03"})
        assert {"from": "2026-12-03", "until": "2026-12-03"} in WorkingHours.objects.get(user=contact.user).absences
        assert "frånvarande i dag" not in client.get(url).content.decode()
        client.post(form, HOURS | {"absences-1-first_day": "2026-12-04", "absences-1-last_day": "2026-12-04"})
        assert "frånvarande i dag" in client.get(url).content.decode()


def test_a_contact_person_who_is_also_a_supervisor_is_listed_once(make_staff, programme, as_staff):
    both = make_staff("both", programme, StaffRole.Role.SUPERVISOR, StaffRole.Role.CONTACT_PERSON)
    html = as_staff(both).get(f"/inbox/programmes/{programme.pk}/settings/").content.decode()
    assert re.findall(r'data-testid="hours-row" data-user-id="(\d+)"', html) == [str(both.user.pk)]
