"""The unanswered-message sweep settles a batch of due checks at once, and one bad check
never holds up the others."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import time_machine

from backend.crisis.models import Alert
from backend.messaging import unanswered
from backend.messaging.models import Conversation, UnansweredCheck
from backend.messaging.unanswered import sweep_unanswered
from tests.crisis.test_alert_api import defector_says

SATURDAY_3AM = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)  # outside working hours: due at once


def test_a_batch_of_checks_raises_one_alert_per_case_and_deletes_every_check(case, other_case, contact):
    conversation = Conversation.objects.get(case=case)
    other = Conversation.objects.get(case=other_case)
    with time_machine.travel(SATURDAY_3AM):
        defector_says(conversation, "hej")
        defector_says(conversation, "hallå?")
        defector_says(other, "hej")
        assert sweep_unanswered() == 3
    alerts = {alert.case_id: alert for alert in Alert.objects.filter(kind="unanswered")}
    assert set(alerts) == {case.pk, other_case.pk}
    assert (alerts[case.pk].trigger_count, alerts[other_case.pk].trigger_count) == (2, 1)
    assert [e.detail["seq"] for e in alerts[case.pk].events.order_by("pk")] == [1, 2]
    assert not UnansweredCheck.objects.exists()


def test_one_bad_check_does_not_hold_up_the_others(case, other_case, contact):
    conversation = Conversation.objects.get(case=case)
    other = Conversation.objects.get(case=other_case)
    real = unanswered._answered

    def fails_for_the_first_case(check: UnansweredCheck) -> bool:
        if check.conversation_id == conversation.pk:
            raise RuntimeError("a bad check")
        return real(check)

    with time_machine.travel(SATURDAY_3AM):
        defector_says(conversation, "hej")
        defector_says(other, "hej")
        with mock.patch.object(unanswered, "_answered", side_effect=fails_for_the_first_case):
            assert sweep_unanswered() == 1
        assert list(Alert.objects.values_list("case_id", flat=True)) == [other_case.pk]
        assert list(UnansweredCheck.objects.values_list("conversation_id", flat=True)) == [conversation.pk]
        assert sweep_unanswered() == 1  # claimed again by the next pass
    assert set(Alert.objects.values_list("case_id", flat=True)) == {case.pk, other_case.pk}
    assert not UnansweredCheck.objects.exists()
