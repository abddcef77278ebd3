"""The worker reads a batch of check-in answers at once, raising the duress alerts of the
batch together; one unreadable answer never holds up the others."""

from __future__ import annotations

import json
from unittest import mock

from django.utils import timezone

from backend.checkins import sweeps
from backend.checkins.models import Checkin, CheckinAnswer
from backend.checkins.sweeps import process_answers
from backend.crisis.models import Alert
from backend.vault.services import seal
from tests.checkins.test_missed_checkins import overdue_checkins


def answered(checkin: Checkin, *, duress: bool) -> CheckinAnswer:
    row = CheckinAnswer(checkin=checkin, created_at=timezone.now(), sealed_assessment=b"")
    plaintext = json.dumps({"duress": int(duress), "answer": "ok"})
    row.sealed_assessment = seal(case_id=checkin.case_id, record=row.vault_record, plaintext=plaintext)
    row.save()
    return row


def test_a_batch_of_answers_raises_each_duress_alert_and_marks_every_answer_read(programme, contact):
    calm, scared, also_scared = overdue_checkins(programme, contact, 3)
    answered(calm, duress=False)
    answered(scared, duress=True)
    answered(also_scared, duress=True)
    assert process_answers() == 3
    alerts = Alert.objects.filter(kind="duress")
    assert sorted(alerts.values_list("case_id", flat=True)) == sorted([scared.case_id, also_scared.case_id])
    assert {alert.severity_name for alert in alerts} == {"critical"}
    assert not CheckinAnswer.objects.filter(processed_at__isnull=True).exists()
    assert process_answers() == 0


def test_one_unreadable_answer_does_not_hold_up_another_cases_duress(programme, contact):
    unreadable, scared = overdue_checkins(programme, contact, 2)
    bad = answered(unreadable, duress=False)
    answered(scared, duress=True)
    real = sweeps.open_sealed

    def fails_for_the_bad_one(*, case_id, record, ciphertext):
        if record == bad.vault_record:
            raise RuntimeError("unreadable")
        return real(case_id=case_id, record=record, ciphertext=ciphertext)

    with mock.patch.object(sweeps, "open_sealed", side_effect=fails_for_the_bad_one):
        assert process_answers() == 1
    assert Alert.objects.get(kind="duress").case_id == scared.case_id
    assert list(CheckinAnswer.objects.filter(processed_at__isnull=True)) == [bad]
    assert process_answers() == 1  # read by a later pass
    assert not CheckinAnswer.objects.filter(processed_at__isnull=True).exists()
