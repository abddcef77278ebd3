"""Enrolling the defector's app: one-time codes for a case, and the enrollment itself.

A contact person issues a short-lived, high-entropy code (also as a QR code) for a case
they are assigned to; the app presents it once with its public keys and becomes the
defector's device, with its first tokens. Devices, keys and tokens are ``accounts``';
the code and what it may open are the case's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.accounts import services as account_services
from backend.accounts.models import Device, User
from backend.audit.services import record_event
from backend.cases import policy
from backend.cases.models import Case, EnrollmentCode
from backend.problems import Problem

# Crockford base32: no I, L, O, U, so a code read aloud or off paper is hard to mistype.
ENROLLMENT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ENROLLMENT_CODE_LENGTH = 12  # 12 x 5 bits = 60 bits of entropy


def generate_enrollment_code() -> str:
    raw = "".join(secrets.choice(ENROLLMENT_ALPHABET) for _ in range(ENROLLMENT_CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, ENROLLMENT_CODE_LENGTH, 4))


def normalise_enrollment_code(code: str) -> str:
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    return cleaned.translate(str.maketrans("OIL", "011"))


def enrollment_code_hash(code: str) -> str:
    """A keyed hash: without the pepper (kept outside the database) a leaked hash
    cannot be checked against guesses offline, however short the code."""
    return hmac.new(
        settings.LIVLINA_ENROLLMENT_PEPPER, normalise_enrollment_code(code).encode(), hashlib.sha256
    ).hexdigest()


def create_enrollment_code(*, case: Case, created_by: User) -> tuple[str, EnrollmentCode]:
    """A fresh one-time code for ``case``. Only staff assigned to the case may call this
    (a device enrolled with it outlives any temporary access); anyone else gets "not
    found". Returns the plain code, which is never stored."""
    policy.require_assigned_case(created_by, case.pk)
    if case.status != Case.Status.OPEN:
        raise Problem(status_code=409, slug="case-closed", detail="The case is closed.")
    code = generate_enrollment_code()
    with transaction.atomic():
        row = EnrollmentCode.objects.create(
            case=case,
            code_hash=enrollment_code_hash(code),
            created_by=created_by,
            expires_at=timezone.now() + settings.LIVLINA_ENROLLMENT_CODE_TTL,
        )
        record_event(
            action="enrollment_code.created", actor=created_by, case_id=case.pk, target=f"enrollment_code:{row.pk}"
        )
    return code, row


def enroll_device(*, code: str, keys: account_services.DeviceKeys) -> tuple[Device, account_services.TokenPair, Case]:
    """Enroll the defector's app with a one-time code. Single use: the row is locked, so
    two apps racing with one code get one device and one 4xx."""
    account_services.validate_device_keys(keys)
    now = timezone.now()
    with transaction.atomic():
        row = (
            EnrollmentCode.objects.select_for_update()
            .select_related("case__defector__user")
            .filter(code_hash=enrollment_code_hash(code))
            .first()
        )
        if row is None:
            raise Problem(
                status_code=400, slug="enrollment-code-invalid", detail="Unknown enrollment code.", field="code"
            )
        if row.used_at is not None:
            raise Problem(
                status_code=400, slug="enrollment-code-used", detail="This code was already used.", field="code"
            )
        if row.expires_at <= now:
            raise Problem(
                status_code=400, slug="enrollment-code-expired", detail="This code has expired.", field="code"
            )
        case = row.case
        if case.status != Case.Status.OPEN:
            raise Problem(status_code=400, slug="case-closed", detail="The case is closed.", field="code")
        device = account_services.new_device(case.defector.user, keys)
        row.used_at = now
        row.used_by_device = device
        row.save(update_fields=["used_at", "used_by_device"])
        pair = account_services.issue_token_pair(device, now=now)
        record_event(action="device.enrolled", actor=case.defector.user, case_id=case.pk, target=f"device:{device.pk}")
    return device, pair, case
