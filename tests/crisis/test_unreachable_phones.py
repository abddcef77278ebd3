"""A staff member on call whose phone no push can reach (none enrolled, its token dead or
missing) is shown as unreachable: in the on-call overview and its warnings, to themselves
(``push.reachability.phone_unreachable_reason``), and on an alert's timeline; escalation
moves on as before."""

from __future__ import annotations

from backend.accounts.models import Device
from backend.crisis.engine import run_escalations
from backend.crisis.models import EscalationPolicy
from backend.crisis.services import raise_alert
from backend.push.models import PushKind
from backend.push.reachability import Unreachable, phone_unreachable_reason, unreachable_users
from backend.push.senders import Delivery
from backend.push.services import drain_outbox, enqueue_push
from tests.factories import DeviceFactory


class TokenDeadSender:
    """The push service's answer for a token it no longer knows (FCM's UNREGISTERED)."""

    def send(self, row, token):
        from backend.push.models import Outcome

        return Delivery(Outcome.TOKEN_DEAD, "UnregisteredError: stand-in")


def overview(client, programme):
    response = client.get(f"/api/v1/programmes/{programme.pk}/oncall")
    assert response.status_code == 200
    return response.json()


def test_each_reason_a_phone_cannot_be_reached(contact, oncall, supervisor, other_contact):
    DeviceFactory(user=contact.user)
    DeviceFactory(user=oncall.user, push_token="")
    dead = DeviceFactory(user=supervisor.user)
    enqueue_push(user_ids=[supervisor.user.pk], kind=PushKind.ALERT)
    drain_outbox(sender=TokenDeadSender())
    dead.refresh_from_db()
    assert dead.push_token == ""
    found = unreachable_users([contact.user.pk, oncall.user.pk, supervisor.user.pk, other_contact.user.pk])
    assert found == {
        oncall.user.pk: Unreachable.NO_PUSH_TOKEN,
        supervisor.user.pk: Unreachable.TOKEN_DEAD,
        other_contact.user.pk: Unreachable.NO_PHONE,
    }


def test_one_phone_with_a_token_is_enough_and_a_revoked_one_counts_for_nothing(contact):
    from django.utils import timezone

    DeviceFactory(user=contact.user, push_token="")
    assert phone_unreachable_reason(contact.user) == Unreachable.NO_PUSH_TOKEN
    spare = DeviceFactory(user=contact.user)
    assert phone_unreachable_reason(contact.user) is None
    Device.objects.filter(pk=spare.pk).update(revoked_at=timezone.now())
    assert phone_unreachable_reason(contact.user) == Unreachable.NO_PUSH_TOKEN


def test_a_fresh_token_makes_the_phone_reachable_again(contact):
    phone = DeviceFactory(user=contact.user)
    enqueue_push(user_ids=[contact.user.pk], kind=PushKind.ALERT)
    drain_outbox(sender=TokenDeadSender())
    assert phone_unreachable_reason(contact.user) == Unreachable.TOKEN_DEAD
    Device.objects.filter(pk=phone.pk).update(push_token="fresh")
    assert phone_unreachable_reason(contact.user) is None


def test_the_oncall_overview_warns_about_an_unreachable_on_call_worker(
    programme, supervisor, oncall, contact, rotation, as_staff
):
    oncall.user.first_name, oncall.user.last_name = "Alex", "Berg"
    oncall.user.save()
    body = overview(as_staff(supervisor), programme)
    assert body["on_call_now"] == [oncall.user.pk]
    assert body["warning_details"] == [
        {
            "code": "on_call_unreachable",
            "text": "Alex Berg is on call but cannot be reached by phone.",
            "user_id": oncall.user.pk,
            "reason": "no_phone",
            "starts_at": None,
            "ends_at": None,
        }
    ]
    assert body["warnings"] == ["Alex Berg is on call but cannot be reached by phone."]
    # Contact persons see the same overview.
    assert overview(as_staff(contact), programme)["warning_details"][0]["user_id"] == oncall.user.pk

    phone = DeviceFactory(user=oncall.user)
    assert overview(as_staff(supervisor), programme)["warning_details"] == []
    enqueue_push(user_ids=[oncall.user.pk], kind=PushKind.ALERT)
    drain_outbox(sender=TokenDeadSender())
    phone.refresh_from_db()
    assert phone.push_token == ""
    (warning,) = overview(as_staff(supervisor), programme)["warning_details"]
    assert (warning["user_id"], warning["reason"]) == (oncall.user.pk, "token_dead")


def test_gap_warnings_carry_their_stretch(programme, supervisor, as_staff):
    (warning,) = overview(as_staff(supervisor), programme)["warning_details"]
    assert warning["code"] == "nobody_on_call" and warning["user_id"] is None and warning["reason"] is None
    assert warning["starts_at"] and warning["ends_at"]


def test_staff_of_another_programme_see_nothing(programme, foreign_supervisor, as_staff):
    response = as_staff(foreign_supervisor).get(f"/api/v1/programmes/{programme.pk}/oncall")
    assert response.status_code == 404


def test_escalation_moves_past_an_unreachable_on_call_worker_and_the_timeline_says_so(
    case, contact, oncall, supervisor, rotation, phone_of
):
    phone_of(contact)
    phone_of(supervisor)
    EscalationPolicy.objects.create(
        programme=case.programme,
        steps=[
            {"action": "notify_on_call"},
            {"action": "wait", "minutes": 10},
            {"action": "notify_supervisors"},
            {"action": "wait", "minutes": 10},
        ],
        repeat=1,
    )
    alert = raise_alert(case=case, kind="keyword", severity="high")
    run_escalations()
    timeline = [(e.kind, e.detail.get("unreachable")) for e in alert.events.order_by("pk")]
    assert timeline[:5] == [
        ("raised", None),
        ("nobody_reachable", [oncall.user.pk]),
        ("wait_skipped", None),
        ("notified", []),
        ("waiting", None),
    ]


def test_a_critical_step_names_who_of_its_people_was_unreachable(case, contact, oncall, rotation, phone_of):
    phone_of(contact)
    alert = raise_alert(case=case, kind="panic", severity="critical")
    run_escalations()
    notified = alert.events.get(kind="notified", detail__action="notify_critical")
    assert notified.detail["users"] == sorted([contact.user.pk, oncall.user.pk])
    assert notified.detail["unreachable"] == [oncall.user.pk] and notified.detail["pushes"] == 1


def test_a_readiness_count_of_unreachable_on_call_staff_across_programmes(
    programme, oncall, rotation, make_staff, foreign_supervisor
):
    import datetime as dt

    from backend.crisis.models import OnCallRotation
    from backend.crisis.oncall_services import unreachable_on_call_everywhere

    other = foreign_supervisor.user.staff_roles.get().programme
    covering = make_staff("other-oncall", other, "on_call")
    OnCallRotation.objects.create(
        programme=other,
        name="jour",
        members=[covering.user.pk],
        start_date=dt.date(2026, 1, 1),
        handoff_time=dt.time(8, 0),
        shift_days=7,
        timezone="Europe/Stockholm",
    )
    DeviceFactory(user=covering.user, push_token="")
    assert unreachable_on_call_everywhere() == [
        {"programme_id": programme.pk, "user_id": oncall.user.pk, "reason": "no_phone"},
        {"programme_id": other.pk, "user_id": covering.user.pk, "reason": "no_push_token"},
    ]
    DeviceFactory(user=oncall.user)
    DeviceFactory(user=covering.user)
    assert unreachable_on_call_everywhere() == []
