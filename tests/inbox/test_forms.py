"""The inbox's forms refuse what the service would refuse, say why on a page, and change
nothing."""

from __future__ import annotations

from backend.checkins.models import CheckinSchedule
from backend.crisis.models import Alert, AlertEvent
from backend.crisis.services import NOTE_MAX_CHARS, RESOLUTION_MAX_CHARS, raise_alert


def test_an_acknowledgement_note_over_the_limit_is_refused_and_the_alert_stays_open(case, contact, as_staff):
    alert = raise_alert(case=case, kind=Alert.Kind.PANIC, severity="critical")
    client = as_staff(contact)

    refused = client.post(f"/inbox/alerts/{alert.pk}/ack", {"note": "x" * (NOTE_MAX_CHARS + 1)})

    assert refused.status_code == 400
    assert refused["Content-Type"].startswith("text/html")
    assert str(NOTE_MAX_CHARS) in refused.content.decode()
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN
    assert not AlertEvent.objects.filter(alert=alert, kind="acknowledged").exists()

    accepted = client.post(f"/inbox/alerts/{alert.pk}/ack", {"note": "x" * NOTE_MAX_CHARS})
    assert accepted.status_code == 302
    alert.refresh_from_db()
    assert alert.state == Alert.State.ACKNOWLEDGED


def test_a_resolution_note_over_the_limit_is_shown_again_with_its_error(case, contact, as_staff):
    alert = raise_alert(case=case, kind=Alert.Kind.PANIC, severity="critical")
    client = as_staff(contact)

    refused = client.post(f"/inbox/alerts/{alert.pk}/resolve", {"note": "y" * (RESOLUTION_MAX_CHARS + 1)})

    assert refused.status_code == 400
    assert 'name="note"' in refused.content.decode()
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN


def test_an_empty_schedule_form_is_refused_not_shown_as_new(case, contact, as_staff):
    response = as_staff(contact).post(f"/inbox/cases/{case.pk}/checkins/", {})
    assert response.status_code == 400
    assert not CheckinSchedule.objects.filter(case=case).exists()
