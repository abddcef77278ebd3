"""The agreed duress phrase of a case: set by staff on the case, checked in every
message the defector sends, read by the worker.

The phrase is stored only as a keyed hash of its normalised form (``crisis.language``),
so "Allt lugnt, ses på fredag" and "allt lugnt ses pa fredag" are the same phrase. A
message is checked by hashing each of its word runs as long as the phrase and comparing;
a case without a phrase is checked against a stand-in of the same shape, so every
message costs the same hashing whether or not a phrase is set, and whether or not it
holds the phrase. What the check found is sealed into a ``MessageDuressCheck`` row
written for every message; the worker opens it and raises the critical ``duress``
alert. The defector's send therefore does the same queries and the same work either
way, and nothing in its response or on the defector's screen differs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend.accounts.models import User
from backend.audit.services import record_event
from backend.cases import policy
from backend.cases.models import Case
from backend.crisis.language import normalise
from backend.crisis.models import Alert, DuressPhrase, MessageDuressCheck
from backend.crisis.services import AlertTrigger, raise_alerts
from backend.crisis.severity import Severity
from backend.jobs import claim_due_rows, run_in_bulk_else_one_by_one
from backend.problems import Problem
from backend.vault.services import CaseSealer, ContentShredded, open_sealed

logger = logging.getLogger(__name__)

MIN_WORDS = 2
MAX_WORDS = 8
MIN_LETTERS = 10
# The shape a case without a phrase is checked against (see the module docstring).
_STAND_IN_WORDS = 3


def _keyed_hash(case_id: int, normalised: str) -> str:
    # Bound to the case, so one phrase set on two cases leaves two unrelated hashes.
    message = f"duress-phrase\x00{case_id}\x00{normalised}".encode()
    return hmac.new(settings.LIVLINA_ENROLLMENT_PEPPER, message, hashlib.sha256).hexdigest()


def set_duress_phrase(*, actor: User, case_id: int, phrase: str) -> None:
    """Set (or replace) the case's duress phrase. Staff assigned to the case only; anyone
    else gets "not found". Raises 400 naming ``phrase`` when it is too short or too long
    to be told apart from ordinary chat. Audited without the phrase."""
    policy.require_assigned_case(actor, case_id)
    normalised = normalise(phrase)
    words = normalised.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or sum(len(w) for w in words) < MIN_LETTERS:
        raise Problem(
            status_code=400,
            slug="validation",
            detail=f"{MIN_WORDS} to {MAX_WORDS} words and at least {MIN_LETTERS} letters.",
            field="phrase",
        )
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        if case.status != Case.Status.OPEN:
            raise Problem(status_code=409, slug="case-closed", detail="The case is closed.")
        DuressPhrase.objects.update_or_create(
            case=case,
            defaults={
                "phrase_hash": _keyed_hash(case.pk, normalised),
                "word_count": len(words),
                "set_at": timezone.now(),
                "set_by": actor,
            },
        )
        record_event(action="duress_phrase.set", actor=actor, case_id=case.pk, target=f"case:{case.pk}")


def _holds_phrase(case_id: int, text: str, stored: DuressPhrase | None) -> bool:
    """Whether ``text`` holds the phrase: every word run of the phrase's length is hashed
    and compared in constant time, all of them, found or not."""
    if stored is None:
        expected, length = secrets.token_hex(32), _STAND_IN_WORDS
    else:
        expected, length = stored.phrase_hash, stored.word_count
    words = normalise(text).split()
    found = False
    for start in range(max(len(words) - length + 1, 1)):
        candidate = _keyed_hash(case_id, " ".join(words[start : start + length]))
        found |= hmac.compare_digest(candidate, expected)
    return found and stored is not None


def record_checks(messages: Sequence[tuple[int, int, str]], *, sealer: CaseSealer) -> None:
    """Check each ``(case_id, seq, text)`` a defector just sent for the case's duress
    phrase and write its sealed ``MessageDuressCheck``: one query for the phrases and one
    insert for the batch, whatever the outcome. Call inside the send transaction, with
    the sealer that sealed the messages (it holds their cases' keys)."""
    if not messages:
        return
    phrases = {row.case_id: row for row in DuressPhrase.objects.filter(case_id__in={m[0] for m in messages})}
    now = timezone.now()
    rows = []
    for case_id, seq, text in messages:
        row = MessageDuressCheck(case_id=case_id, seq=seq, created_at=now, sealed_assessment=b"")
        duress = _holds_phrase(case_id, text, phrases.get(case_id))
        # 0/1, not false/true: the sealed row has the same length either way.
        row.sealed_assessment = sealer.seal(
            case_id=case_id, record=row.vault_record, plaintext=json.dumps({"duress": int(duress)})
        )
        rows.append(row)
    MessageDuressCheck.objects.bulk_create(rows)


def process_checks(*, limit: int = 500) -> int:
    """Read what each message check found; a message that held the duress phrase raises
    the critical ``duress`` alert (never shown to the defector). A batch is read with a
    few statements; should that fail, each row is tried on its own. A row of an erased
    case is marked read without a look. Returns how many rows were read."""
    with transaction.atomic():
        pending = claim_due_rows(
            MessageDuressCheck.objects.select_related("case"),
            due=Q(processed_at__isnull=True),
            order_by=("created_at", "pk"),
            limit=limit,
            lock_only_self=True,
        )
        read = run_in_bulk_else_one_by_one(pending, bulk=_read_checks, what="duress check", logger=logger)
    return sum(outcome is True for outcome in read)


def _read_checks(checks: Sequence[MessageDuressCheck]) -> list[bool]:
    duress, readable = [], []
    for check in checks:
        try:
            plaintext = open_sealed(
                case_id=check.case_id, record=check.vault_record, ciphertext=bytes(check.sealed_assessment)
            )
        except ContentShredded:
            readable.append(False)
            continue
        readable.append(True)
        if json.loads(plaintext).get("duress"):
            duress.append(
                AlertTrigger(
                    case=check.case,
                    kind=Alert.Kind.DURESS,
                    severity=Severity.CRITICAL,
                    detail={"seq": check.seq},
                    reasons=(("duress", "duress_phrase"),),
                )
            )
    raise_alerts(duress)
    MessageDuressCheck.objects.filter(pk__in=[check.pk for check in checks]).update(processed_at=timezone.now())
    return readable
