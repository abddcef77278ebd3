"""The agreed duress phrase of a case: who sets it, how it is kept, and a message that
holds it -- delivered like any other, the same response and the same work, and a silent
critical alert raised by the worker. Tested like the duress PIN."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.audit.models import AuditEntry
from backend.crisis import duress_phrases
from backend.crisis.duress_phrases import process_checks
from backend.crisis.models import Alert, DuressPhrase, MessageDuressCheck
from backend.messaging.models import Conversation
from backend.push.models import PushOutbox
from tests.conftest import device_client

PHRASE = "Har du sett min blå mössa"


def phrase_url(case) -> str:
    return f"/api/v1/cases/{case.pk}/duress-phrase"


def send(app, case, body: str):
    conversation = Conversation.objects.get(case=case)
    return app.post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"client_id": str(uuid.uuid4()), "body": body},
        format="json",
    )


def test_the_contact_person_sets_it_and_only_a_keyed_hash_is_kept(case, contact, as_staff):
    staff = as_staff(contact)
    assert staff.put(phrase_url(case), {"phrase": PHRASE}, format="json").status_code == 204
    stored = DuressPhrase.objects.get(case=case)
    assert stored.word_count == 6
    assert "mossa" not in stored.phrase_hash and len(stored.phrase_hash) == 64
    # Never shown again: there is nothing to read it back with.
    assert staff.get(phrase_url(case)).status_code == 405
    entry = AuditEntry.objects.get(action="duress_phrase.set")
    assert "mössa" not in str(entry.details) and "mossa" not in str(entry.details)
    # Setting it again replaces it.
    assert staff.put(phrase_url(case), {"phrase": "allt lugnt här hemma"}, format="json").status_code == 204
    assert DuressPhrase.objects.get(case=case).word_count == 4


def test_the_same_phrase_on_two_cases_leaves_unrelated_hashes(case, other_case, contact, other_contact, as_staff):
    as_staff(contact).put(phrase_url(case), {"phrase": PHRASE}, format="json")
    as_staff(other_contact).put(phrase_url(other_case), {"phrase": PHRASE}, format="json")
    first, second = DuressPhrase.objects.order_by("pk")
    assert first.phrase_hash != second.phrase_hash


def test_only_staff_assigned_to_the_case_set_it(case, other_contact, supervisor, defector_device, as_staff):
    assert as_staff(other_contact).put(phrase_url(case), {"phrase": PHRASE}, format="json").status_code == 404
    assert as_staff(supervisor).put(phrase_url(case), {"phrase": PHRASE}, format="json").status_code == 404
    app = device_client(defector_device)
    assert app.put(phrase_url(case), {"phrase": PHRASE}, format="json").status_code == 403
    assert not DuressPhrase.objects.exists()


@pytest.mark.parametrize("phrase", ["hej", "ok ok", "ett två tre fyra fem sex sju åtta nio"])
def test_a_phrase_too_short_or_too_long_is_refused(case, contact, as_staff, phrase):
    response = as_staff(contact).put(phrase_url(case), {"phrase": phrase}, format="json")
    assert response.status_code == 400
    assert "phrase" in str(response.json())


def test_a_message_holding_it_is_delivered_like_any_other_and_raises_a_silent_duress_alert(
    case, contact, defector_device, as_staff
):
    as_staff(contact).put(phrase_url(case), {"phrase": PHRASE}, format="json")
    app = device_client(defector_device)
    with CaptureQueriesContext(connection) as normal_queries:
        normal = send(app, case, "hej, har du sett min gröna jacka? ses imorgon")
    # Written differently (case, diacritics, punctuation): still the phrase.
    with CaptureQueriesContext(connection) as duress_queries:
        duress = send(app, case, "hej, HAR du sett min bla mossa? ses imorgon")
    assert normal.status_code == duress.status_code == 201

    def comparable(response):
        body = response.json()
        message = body.get("message", body)
        return {k: v for k, v in message.items() if k not in {"id", "seq", "client_id", "body", "created_at"}}

    assert comparable(normal) == comparable(duress)
    # The same statements against the database (ids and literals aside).
    shape = lambda queries: [re.sub(r"\d+", "N", re.sub(r"'[^']*'", "?", q["sql"])) for q in queries.captured_queries]  # noqa: E731
    assert shape(normal_queries) == shape(duress_queries)
    sealed = [len(bytes(c.sealed_assessment)) for c in MessageDuressCheck.objects.order_by("seq")]
    assert sealed[0] == sealed[1]
    assert not Alert.objects.exists()

    assert process_checks() == 2
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity_name) == ("duress", "critical")
    assert alert.reasons == [{"category": "duress", "rule": "duress_phrase"}]
    # The message is stored and delivered; nothing of the alert reaches the defector.
    bodies = [
        m["body"]
        for m in app.get(f"/api/v1/conversations/{Conversation.objects.get(case=case).pk}/messages").json()["results"]
    ]
    assert "hej, HAR du sett min bla mossa? ses imorgon" in bodies
    assert app.get("/api/v1/alerts").status_code == 403
    assert not PushOutbox.objects.filter(device__user=case.defector.user, kind="alert").exists()
    assert process_checks() == 0


def test_a_case_without_a_phrase_does_the_same_hashing(case, other_case, contact, as_staff, monkeypatch):
    as_staff(contact).put(phrase_url(case), {"phrase": "allt lugnt här"}, format="json")  # three words
    hashed: list[int] = []
    original = duress_phrases._keyed_hash
    monkeypatch.setattr(
        duress_phrases, "_keyed_hash", lambda case_id, text: hashed.append(case_id) or original(case_id, text)
    )
    text = "vi ses på fredag vid stationen som vanligt"
    with_phrase = duress_phrases._holds_phrase(case.pk, text, DuressPhrase.objects.get(case=case))
    without_phrase = duress_phrases._holds_phrase(other_case.pk, text, None)
    holding = duress_phrases._holds_phrase(
        case.pk, "vi ses, allt lugnt här, stationen som vanligt", DuressPhrase.objects.get(case=case)
    )
    assert (with_phrase, without_phrase, holding) == (False, False, True)
    assert hashed.count(case.pk) == 2 * hashed.count(other_case.pk) == 12
