"""Alerts escalate step by step until a human acknowledges; the policy is data."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.utils import timezone

from backend.crisis.engine import claim_due_alerts, run_escalations, run_step
from backend.crisis.models import Alert, AlertRecipient, EscalationPolicy
from backend.crisis.services import acknowledge_alert, raise_alert, resolve_alert
from backend.push.models import PushOutbox
from tests.factories import CaseFactory


def pushed_users(alert: Alert) -> set[int]:
    return set(PushOutbox.objects.filter(alert=alert).values_list("device__user_id", flat=True))


def events(alert: Alert) -> list[str]:
    return list(alert.events.values_list("kind", flat=True))


def test_a_new_trigger_adds_to_the_open_alert_of_the_same_kind(case):
    first = raise_alert(case=case, kind="keyword", severity="normal", categories=["relapse"])
    second = raise_alert(case=case, kind="keyword", severity="normal", categories=["threat"])
    assert first.pk == second.pk
    second.refresh_from_db()
    assert second.trigger_count == 2 and second.categories == ["relapse", "threat"]
    assert Alert.objects.count() == 1
    assert raise_alert(case=case, kind="panic", severity="critical").pk != first.pk


def test_a_higher_severity_raises_the_alert(case):
    alert = raise_alert(case=case, kind="keyword", severity="normal")
    raise_alert(case=case, kind="keyword", severity="high")
    alert.refresh_from_db()
    assert alert.severity_name == "high"
    assert "severity_raised" in events(alert)
    raise_alert(case=case, kind="keyword", severity="normal")
    alert.refresh_from_db()
    assert alert.severity_name == "high"  # never lowered


def test_a_critical_trigger_reopens_an_acknowledged_alert_and_escalates_from_the_top(case, contact):
    alert = raise_alert(case=case, kind="missed_checkin", severity="high")
    acknowledge_alert(alert=alert, user=contact.user)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1), tick=False):
        again = raise_alert(case=case, kind="missed_checkin", severity="critical", detail={"checkin": 1})
        now = timezone.now()
    assert again.pk == alert.pk
    again.refresh_from_db()
    assert (again.state, again.severity_name, again.trigger_count) == ("open", "critical", 2)
    assert (again.step_index, again.round, again.next_step_at, again.reopen_at) == (0, 0, now, None)
    assert again.escalation["steps"][0] == {"action": "notify_critical"}
    assert [(e.kind, e.detail) for e in again.events.order_by("pk")][1:] == [
        ("acknowledged", {"note": ""}),
        ("retriggered", {"severity": "critical", "checkin": 1}),
        ("severity_raised", {"previous": "high", "severity": "critical"}),
        ("reopened", {"reason": "critical trigger"}),
    ]


def test_escalation_notifies_contacts_then_on_call_then_supervisors(
    case, contact, oncall, supervisor, rotation, phone_of
):
    for staff in (contact, oncall, supervisor):
        phone_of(staff)
    start = timezone.now()
    alert = raise_alert(case=case, kind="keyword", severity="high")
    run_escalations()
    assert pushed_users(alert) == {contact.user.pk}
    with time_machine.travel(start + dt.timedelta(minutes=4)):
        run_escalations()
        assert pushed_users(alert) == {contact.user.pk}
    with time_machine.travel(start + dt.timedelta(minutes=5, seconds=1)):
        run_escalations()
        assert pushed_users(alert) == {contact.user.pk, oncall.user.pk}
    with time_machine.travel(start + dt.timedelta(minutes=10, seconds=2)):
        run_escalations()
        assert pushed_users(alert) == {contact.user.pk, oncall.user.pk, supervisor.user.pk}
    assert events(alert)[:4] == ["raised", "notified", "waiting", "notified"]
    assert set(AlertRecipient.objects.filter(alert=alert).values_list("user_id", flat=True)) == {
        contact.user.pk,
        oncall.user.pk,
        supervisor.user.pk,
    }


def test_critical_alerts_reach_contact_and_on_call_at_once(case, contact, oncall, rotation, phone_of):
    phone_of(contact)
    phone_of(oncall)
    alert = raise_alert(case=case, kind="panic", severity="critical")
    run_escalations()
    assert pushed_users(alert) == {contact.user.pk, oncall.user.pk}


def test_a_step_with_nobody_to_notify_is_recorded_and_escalates_at_once(case, contact, supervisor, phone_of):
    phone_of(supervisor)
    EscalationPolicy.objects.create(
        programme=case.programme,
        steps=[{"action": "notify_on_call"}, {"action": "notify_supervisors"}, {"action": "wait", "minutes": 5}],
        repeat=2,
    )
    alert = raise_alert(case=case, kind="keyword", severity="high")
    run_escalations()
    assert events(alert)[:3] == ["raised", "nobody_to_notify", "notified"]
    assert pushed_users(alert) == {supervisor.user.pk}


def test_acknowledging_stops_escalation_even_for_a_claimed_step(case, contact, oncall, rotation, phone_of):
    phone_of(contact)
    phone_of(oncall)
    alert = raise_alert(case=case, kind="keyword", severity="high")
    run_escalations()
    start = timezone.now()
    with time_machine.travel(start + dt.timedelta(minutes=6)):
        assert claim_due_alerts(now=timezone.now(), owner="worker-a") == [alert.pk]
        acknowledge_alert(alert=alert, user=contact.user)
        assert run_step(alert.pk, owner="worker-a") is False
        run_escalations()
    assert pushed_users(alert) == {contact.user.pk}
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.next_step_at is None


def test_an_unresolved_acknowledgement_reopens_after_the_ack_timeout(case, contact, phone_of):
    phone_of(contact)
    alert = raise_alert(case=case, kind="keyword", severity="high")
    run_escalations()
    acknowledge_alert(alert=alert, user=contact.user)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=31)):
        run_escalations()
    alert.refresh_from_db()
    assert alert.state == "open"
    assert "reopened" in events(alert)
    assert PushOutbox.objects.filter(alert=alert).count() == 2


def test_editing_the_policy_does_not_change_a_running_escalation(case, contact, supervisor, phone_of):
    phone_of(contact)
    phone_of(supervisor)
    alert = raise_alert(case=case, kind="keyword", severity="high")
    EscalationPolicy.objects.create(programme=case.programme, steps=[{"action": "notify_supervisors"}], repeat=1)
    run_escalations()
    assert pushed_users(alert) == {contact.user.pk}
    assert alert.escalation["steps"][0] == {"action": "notify_contacts"}


def test_repeats_run_out_into_a_steady_beat_until_someone_answers(case, contact, phone_of):
    phone_of(contact)
    EscalationPolicy.objects.create(
        programme=case.programme, steps=[{"action": "notify_contacts"}, {"action": "wait", "minutes": 1}], repeat=2
    )
    alert = raise_alert(case=case, kind="keyword", severity="high")
    start = timezone.now()
    for minutes in (0, 1.1, 2.2, 20, 40):
        with time_machine.travel(start + dt.timedelta(minutes=minutes)):
            run_escalations()
    alert.refresh_from_db()
    # Two rounds (0 and 1.1 min), then everyone on a 15-minute beat (2.2, 20 and 40 min): never silence.
    assert PushOutbox.objects.filter(alert=alert).count() == 5
    assert events(alert).count("escalation_exhausted") == 1
    assert events(alert).count("notified") == 5


def test_resolving_needs_a_note_and_ends_alert_access(case, oncall, contact, rotation, phone_of, as_staff):
    import pytest

    from backend.cases import policy
    from backend.problems import Problem

    alert = raise_alert(case=case, kind="panic", severity="critical")
    run_escalations()
    acknowledge_alert(alert=alert, user=oncall.user)
    assert policy.visible_cases(oncall.user).filter(pk=case.pk).exists()
    with pytest.raises(Problem):
        resolve_alert(alert=alert, user=oncall.user, note="  ")
    resolve_alert(alert=alert, user=oncall.user, note="Called; safe with family.")
    assert not policy.visible_cases(oncall.user).filter(pk=case.pk).exists()


def test_a_batch_of_steps_notifies_each_alerts_people_as_one_by_one_would(
    case, other_case, contact, other_contact, oncall, rotation, phone_of
):
    from backend.crisis.engine import run_steps

    for staff in (contact, other_contact, oncall):
        phone_of(staff)
    high = raise_alert(case=case, kind="keyword", severity="high")
    critical = raise_alert(case=other_case, kind="panic", severity="critical")
    acknowledged = raise_alert(case=case, kind="missed_checkin", severity="high")
    claimed = claim_due_alerts(now=timezone.now(), owner="worker-a")
    assert set(claimed) == {high.pk, critical.pk, acknowledged.pk}
    acknowledge_alert(alert=acknowledged, user=contact.user)

    assert run_steps(claimed, owner="worker-a") == 2

    assert pushed_users(high) == {contact.user.pk}
    assert pushed_users(critical) == {other_contact.user.pk, oncall.user.pk}
    assert pushed_users(acknowledged) == set()
    assert events(high) == ["raised", "notified", "waiting"]
    assert events(critical)[:2] == ["raised", "notified"]
    assert set(AlertRecipient.objects.filter(alert=critical).values_list("user_id", flat=True)) == {
        other_contact.user.pk,
        oncall.user.pk,
    }
    for alert in (high, critical):
        alert.refresh_from_db()
        assert (alert.lease_owner, alert.lease_until) == ("", None)
        assert alert.next_step_at > timezone.now() or alert.step_index > 0


def test_a_batch_of_steps_costs_the_same_few_statements_however_many_alerts_it_holds(programme, contact, phone_of):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backend.crisis.engine import run_steps

    phone_of(contact)

    def statements(count: int) -> int:
        for i in range(count):
            alias = f"S{count}-{i}"
            case = CaseFactory(programme=programme, alias=alias, primary_contact=contact.user)
            raise_alert(case=case, kind="keyword", severity="high")
        claimed = claim_due_alerts(now=timezone.now(), owner="worker-a")
        assert len(claimed) == count
        with CaptureQueriesContext(connection) as queries:
            assert run_steps(claimed, owner="worker-a") == count
        return sum(1 for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT")))

    assert statements(2) == statements(12) < 12


def test_a_second_critical_trigger_reopens_an_acknowledged_alert_and_notifies_again(case, contact, phone_of):
    phone_of(contact)
    alert = raise_alert(case=case, kind="panic", severity="critical")
    run_escalations()
    acknowledge_alert(alert=alert, user=contact.user)
    raise_alert(case=case, kind="panic", severity="critical")
    run_escalations()
    alert.refresh_from_db()
    assert alert.state == "open"
    assert PushOutbox.objects.filter(alert=alert).count() == 2


def test_a_step_that_reaches_no_phone_does_not_wait_before_the_next(case, contact, supervisor, phone_of):
    phone_of(supervisor)
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
