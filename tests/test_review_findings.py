"""Behaviour pinned after a review: each of these once went wrong."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from backend.audit.models import AuditEntry
from backend.cases.services import grant_alert_access, open_break_glass
from backend.crisis.engine import run_escalations
from backend.crisis.models import Alert, EscalationPolicy
from backend.crisis.services import acknowledge_alert, raise_alert
from backend.push.models import PushOutbox
from tests.conftest import STAFF_PASSWORD


def test_staff_with_only_temporary_access_cannot_enroll_a_device_as_the_defector(case, oncall, supervisor, as_staff):
    grant_alert_access(case=case, staff=oncall.user, alert_ref="alert:1", reason="holding")
    open_break_glass(case_id=case.pk, supervisor=supervisor.user, reason="Contact person is on leave this week")
    for person in (oncall, supervisor):
        client = as_staff(person)
        assert client.get(f"/api/v1/cases/{case.pk}").status_code == 200  # may read…
        assert client.post(f"/api/v1/cases/{case.pk}/enrollment-codes").status_code == 404  # …not enroll


def test_a_second_critical_trigger_reopens_an_acknowledged_alert_and_notifies_again(case, contact):
    from backend.accounts.models import Device

    Device.objects.create(
        user=contact.user, name="p", platform="ios", signing_key="a" * 44, box_key="b" * 44, push_token="t"
    )
    alert = raise_alert(case=case, kind="panic", severity="critical")
    run_escalations()
    acknowledge_alert(alert=alert, user=contact.user)
    raise_alert(case=case, kind="panic", severity="critical")
    run_escalations()
    alert.refresh_from_db()
    assert alert.state == "open"
    assert PushOutbox.objects.filter(alert=alert).count() == 2


def test_a_step_that_reaches_no_phone_does_not_wait_before_the_next(case, contact, supervisor):
    from backend.accounts.models import Device

    Device.objects.create(
        user=supervisor.user, name="p", platform="ios", signing_key="a" * 44, box_key="b" * 44, push_token="s"
    )
    EscalationPolicy.objects.create(
        programme=case.programme,
        steps=[{"action": "notify_contacts"}, {"action": "wait", "minutes": 10}, {"action": "notify_supervisors"}],
        repeat=1,
    )
    alert = raise_alert(case=case, kind="keyword", severity="high")  # the contact person has no phone
    run_escalations()
    kinds = list(alert.events.values_list("kind", flat=True))
    assert kinds[:4] == ["raised", "nobody_reachable", "wait_skipped", "notified"]
    assert set(PushOutbox.objects.filter(alert=alert).values_list("device__user_id", flat=True)) == {supervisor.user.pk}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/cases/1000000000000000000000000000000", None),
        ("get", "/api/v1/programmes/1000000000000000000000000000000/phrases", None),
        ("get", "/api/v1/alerts/1000000000000000000000000000000", None),
        (
            "post",
            "/api/v1/programmes/{programme}/oncall/rotations",
            {
                "name": "x",
                "members": [10**30],
                "start_date": "2026-11-20",
                "handoff_time": "08:00",
                "shift_days": 7,
                "timezone": "Europe/Stockholm",
            },
        ),
    ],
)
def test_out_of_range_numbers_are_a_4xx_not_a_500(programme, supervisor, as_staff, method, path, body):
    client = as_staff(supervisor)
    response = getattr(client, method)(path.format(programme=programme.pk), body, format="json")
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"] == "application/problem+json"


def test_a_failed_login_keeps_no_typed_username_in_the_audit_log(db):
    typed = "my-secret-password-typed-in-the-wrong-field"
    APIClient().post("/inbox/login/", {"username": typed, "password": STAFF_PASSWORD, "otp": "123456"})
    entry = AuditEntry.objects.get(action="staff.login_failed")
    assert typed not in entry.target and typed not in str(entry.details)
    assert entry.target.startswith("username-hash:")


def test_control_characters_in_the_audit_reason_are_refused(case, contact, as_staff):
    response = as_staff(contact).get(f"/api/v1/cases/{case.pk}?why=a%00b")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "why"


def test_nul_in_a_message_body_is_refused(case, defector_device):
    from backend.messaging.models import Conversation
    from tests.conftest import device_client

    conversation = Conversation.objects.get(case=case)
    response = device_client(defector_device).post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"client_id": str(uuid.uuid4()), "body": "a\x00b"},
        format="json",
    )
    assert response.status_code == 400
    assert not Alert.objects.exists()


def test_one_failing_escalation_step_does_not_hold_up_the_others(case, other_case, contact, other_contact):
    from unittest import mock

    from backend.crisis import engine

    first = raise_alert(case=case, kind="keyword", severity="high")
    second = raise_alert(case=other_case, kind="keyword", severity="high")
    real = engine._advance

    def fails_for_the_first(alert, **kwargs):
        if alert.pk == first.pk:
            raise RuntimeError("a bad alert")
        return real(alert, **kwargs)

    # The batch fails, then each alert is stepped on its own: only the bad one is left.
    with mock.patch.object(engine, "_advance", side_effect=fails_for_the_first):
        assert engine.run_escalations() == 2
    second.refresh_from_db()
    assert second.events.filter(kind__in=["notified", "nobody_reachable"]).exists()
    first.refresh_from_db()
    assert not first.events.exclude(kind="raised").exists()
    assert first.lease_owner  # still leased: tried again when the lease expires


def test_a_broken_channel_layer_config_never_escapes_a_commit(settings, case):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"prefix": "x"}}
    }
    from backend.realtime import layer_health, publish_now

    layer_health.failing = False
    publish_now("user.1", {"type": "ping"})  # must not raise
    assert layer_health.failing is True
    layer_health.failing = False


def test_the_worker_drains_a_crowd_in_small_batches():
    from backend.worker.loop import until_drained

    calls = []

    def batch(*, limit):
        calls.append(limit)
        return limit if len(calls) < 4 else 3

    assert until_drained(batch, limit=10)() == 33
    assert calls == [10, 10, 10, 10]
