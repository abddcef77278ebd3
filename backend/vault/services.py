"""Envelope encryption of case content, key rotation and crypto-shredding.

Every case has one random 32-byte data key. Content is sealed under it with
XChaCha20-Poly1305 (``nacl.secret.Aead``); the data key itself is stored only wrapped under
a key-encryption key (KEK) from settings, named by its kid. Associated data binds each
ciphertext to its case and record, and each wrapped key to its case and kid, so bytes copied
to another row fail authentication instead of decrypting under the wrong context.

No unwrapped data key is cached: every seal/open reads the ``CaseKey`` row, so shredding
takes effect for every process at the moment its transaction commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from nacl.exceptions import CryptoError
from nacl.secret import Aead

from backend.audit.services import record_event
from backend.vault.models import CaseKey

if TYPE_CHECKING:
    from backend.accounts.models import User
    from backend.cases.models import Case

__all__ = [
    "CaseSealer",
    "ContentShredded",
    "ContentTampered",
    "MissingCaseKey",
    "VaultError",
    "create_case_key",
    "open_sealed",
    "rewrap_all_case_keys",
    "seal",
    "shred_case_key",
]

DATA_KEY_SIZE = Aead.KEY_SIZE  # 32 bytes
# First byte of every sealed blob; a new scheme gets a new byte so old rows stay readable.
FORMAT_V1 = b"\x01"
_MIN_SEALED_LEN = len(FORMAT_V1) + Aead.NONCE_SIZE + Aead.MACBYTES


class VaultError(Exception):
    """Base class for every error raised by the vault."""


class MissingCaseKey(VaultError):  # noqa: N818 (names are part of the public API)
    """The case has no data key (it was never created)."""

    def __init__(self, case_id: int) -> None:
        self.case_id = case_id
        super().__init__(f"Case {case_id} has no data key; its content cannot be sealed or opened.")


class ContentShredded(VaultError):  # noqa: N818 (names are part of the public API)
    """The case's data key was destroyed; its content is permanently unrecoverable."""

    def __init__(self, case_id: int, shredded_at: datetime) -> None:
        self.case_id = case_id
        self.shredded_at = shredded_at
        when = shredded_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(
            f"The content of case {case_id} was erased (crypto-shredded) on {when}: "
            "its data key was destroyed and the content can never be decrypted again."
        )


class ContentTampered(VaultError):  # noqa: N818 (names are part of the public API)
    """Authentication failed: the ciphertext was altered, or belongs to another case or record."""

    def __init__(self, case_id: int, record: str, reason: str = "") -> None:
        self.case_id = case_id
        self.record = record
        detail = f" ({reason})" if reason else ""
        super().__init__(
            f"Sealed content for case {case_id}, record {record!r} failed authentication{detail}: "
            "it was altered or belongs to another case or record."
        )


# --- keys --------------------------------------------------------------------------------


def _configured_keks() -> Mapping[str, bytes]:
    keks: Mapping[str, bytes] = settings.LIVLINA_KEKS
    return keks


def _kek(kid: str) -> bytes:
    """The KEK named ``kid``, or a VaultError that tells the operator what is missing."""
    keks = _configured_keks()
    kek = keks.get(kid)
    if kek is None:
        configured = ", ".join(sorted(keks)) or "none"
        raise VaultError(
            f"Key-encryption key {kid!r} is not configured (configured: {configured}). "
            f"Keep KEK {kid!r} in LIVLINA_KEKS until `manage.py rewrap_data_keys` has moved every "
            "data key off it."
        )
    if len(kek) != Aead.KEY_SIZE:
        raise VaultError(f"Key-encryption key {kid!r} must be {Aead.KEY_SIZE} bytes, not {len(kek)}.")
    return kek


def _active_kid() -> str:
    kid: str = settings.LIVLINA_ACTIVE_KEK
    _kek(kid)  # fail early and clearly if the active KEK is not configured
    return kid


def _wrap_aad(case_id: int, kid: str) -> bytes:
    return f"livlina.casekey.v1|{case_id}|{kid}".encode()


def _content_aad(case_id: int, record: str) -> bytes:
    # case_id is an integer, so the first "|" after it is unambiguous; record is last and
    # may contain anything.
    return f"livlina.v1|{case_id}|{record}".encode()


def _wrap(data_key: bytes, *, case_id: int, kid: str) -> bytes:
    return bytes(Aead(_kek(kid)).encrypt(data_key, _wrap_aad(case_id, kid)))


def _unwrap(case_key: CaseKey) -> bytes:
    """The raw data key of a live (not shredded) ``CaseKey``."""
    wrapped = case_key.wrapped_key
    if wrapped is None:
        raise VaultError(f"Case {case_key.case_id} has a data key row without a wrapped key.")
    kek = _kek(case_key.kek_id)
    try:
        data_key = Aead(kek).decrypt(bytes(wrapped), _wrap_aad(case_key.case_id, case_key.kek_id))
    except CryptoError as exc:
        raise VaultError(
            f"The data key of case {case_key.case_id} failed to unwrap under KEK {case_key.kek_id!r}: "
            "the wrapped key was altered, copied from another case, or the KEK bytes changed."
        ) from exc
    return bytes(data_key)


def _live_data_key(case_id: int) -> bytes:
    """Read and unwrap the case's data key; raises MissingCaseKey / ContentShredded."""
    case_key = CaseKey.objects.filter(case_id=case_id).first()
    if case_key is None:
        raise MissingCaseKey(case_id)
    if case_key.shredded_at is not None:
        raise ContentShredded(case_id, case_key.shredded_at)
    return _unwrap(case_key)


def create_case_key(*, case: Case) -> CaseKey:
    """Create the case's random 32-byte data key, wrapped under the active KEK.

    The wrap is bound to the case id and kid, so a wrapped key copied onto another case's row
    does not unwrap. Raises VaultError if the case already has a key (live or shredded):
    replacing a key would make existing content unreadable, and a shredded case must stay
    erased. Runs in the caller's transaction (atomic on its own otherwise).
    """
    if CaseKey.objects.filter(case_id=case.pk).exists():
        raise VaultError(f"Case {case.pk} already has a data key; it is never replaced.")
    kid = _active_kid()
    data_key = secrets.token_bytes(DATA_KEY_SIZE)
    return CaseKey.objects.create(case=case, wrapped_key=_wrap(data_key, case_id=case.pk, kid=kid), kek_id=kid)


# --- content -----------------------------------------------------------------------------


def seal(*, case_id: int, record: str, plaintext: bytes | str) -> bytes:
    """Encrypt ``plaintext`` (str is UTF-8 encoded) under the case's data key.

    ``record`` names the row and field the ciphertext belongs to (e.g. ``"message:12:7"``);
    the caller keeps it stable and unique per row, and must pass the same value to
    ``open_sealed``. Every call uses a fresh random 192-bit nonce, so sealing the same text
    twice gives different bytes. Returns ``b"\\x01" + nonce + ciphertext + tag``.
    Raises MissingCaseKey, or ContentShredded for an erased case (nothing new is written
    into a shredded case).
    """
    return _seal_with(_live_data_key(case_id), case_id=case_id, record=record, plaintext=plaintext)


class CaseSealer:
    """Seals content for several cases with one read of their key rows (the message send
    path seals a batch at once). Use inside the transaction that stores the content and
    drop it afterwards: it holds unwrapped data keys, and a shredding committed later must
    not be outlived by a copy of the key."""

    def __init__(self, case_ids: Iterable[int]) -> None:
        self._keys: dict[int, bytes | VaultError] = {}
        rows = {row.case_id: row for row in CaseKey.objects.filter(case_id__in=set(case_ids))}
        for case_id in set(case_ids):
            row = rows.get(case_id)
            if row is None:
                self._keys[case_id] = MissingCaseKey(case_id)
            elif row.shredded_at is not None:
                self._keys[case_id] = ContentShredded(case_id, row.shredded_at)
            else:
                self._keys[case_id] = _unwrap(row)

    def seal(self, *, case_id: int, record: str, plaintext: str) -> bytes:
        """As ``seal``; raises MissingCaseKey / ContentShredded for that case only."""
        key = self._keys[case_id]
        if isinstance(key, VaultError):
            raise key
        return _seal_with(key, case_id=case_id, record=record, plaintext=plaintext)


def _seal_with(data_key: bytes, *, case_id: int, record: str, plaintext: bytes | str) -> bytes:
    if not record:
        raise ValueError("record must be a non-empty, stable name for the sealed field")
    data = plaintext.encode() if isinstance(plaintext, str) else bytes(plaintext)
    return FORMAT_V1 + bytes(Aead(data_key).encrypt(data, _content_aad(case_id, record)))


def open_sealed(*, case_id: int, record: str, ciphertext: bytes) -> bytes:
    """Decrypt what ``seal`` returned for the same ``case_id`` and ``record``.

    Raises MissingCaseKey if the case never had a key, ContentShredded if it was
    crypto-shredded (checked first: erased content is reported as erased, whatever the
    bytes), and ContentTampered if the bytes were altered, have an unknown format, or were
    sealed for another case or record. Never returns unauthenticated plaintext.
    """
    return _open_with(_live_data_key(case_id), case_id=case_id, record=record, ciphertext=ciphertext)


def open_sealed_all(*, case_id: int, sealed: Sequence[tuple[str, bytes]]) -> list[bytes]:
    """``open_sealed`` for many ``(record, ciphertext)`` of one case, in order: the data key
    is read and unwrapped once (a page of messages is one key read, not one per message)."""
    if not sealed:
        return []
    data_key = _live_data_key(case_id)
    return [
        _open_with(data_key, case_id=case_id, record=record, ciphertext=ciphertext) for record, ciphertext in sealed
    ]


def _open_with(data_key: bytes, *, case_id: int, record: str, ciphertext: bytes) -> bytes:
    blob = bytes(ciphertext)
    if len(blob) < _MIN_SEALED_LEN:
        raise ContentTampered(case_id, record, "too short")
    if blob[:1] != FORMAT_V1:
        raise ContentTampered(case_id, record, f"unknown format version {blob[0]}")
    try:
        return bytes(Aead(data_key).decrypt(blob[1:], _content_aad(case_id, record)))
    except CryptoError as exc:
        raise ContentTampered(case_id, record) from exc


# --- erasure and rotation ----------------------------------------------------------------


def shred_case_key(*, case: Case, actor: User | None) -> None:
    """Crypto-shred the case: destroy its wrapped data key so its content is unrecoverable.

    Transactional: the key row is locked, ``wrapped_key`` set to NULL and ``shredded_at``
    stamped, and a ``case.shredded`` audit event recorded, all in one transaction.
    Idempotent: shredding an already shredded case changes nothing and records nothing
    more. A case that never had a key gets a shredded tombstone, so it reads as erased and
    can never be given a key. Irreversible: callers must check authorisation first.
    ``actor`` is None only for system jobs (e.g. retention).
    """
    with transaction.atomic():
        case_key = CaseKey.objects.select_for_update().filter(case_id=case.pk).first()
        if case_key is not None and case_key.shredded_at is not None:
            return
        now = timezone.now()
        if case_key is None:
            CaseKey.objects.create(case=case, wrapped_key=None, kek_id="", shredded_at=now)
        else:
            case_key.wrapped_key = None
            case_key.shredded_at = now
            case_key.save(update_fields=["wrapped_key", "shredded_at"])
        record_event(action="case.shredded", actor=actor, case_id=case.pk, target=f"case:{case.pk}")


def rewrap_all_case_keys(*, batch_size: int = 500) -> int:
    """Re-wrap every live data key that is not under the active KEK; return how many.

    Data keys (and so all sealed content) are unchanged; only their wrapping moves. Each
    batch is locked with ``select_for_update`` and committed in its own transaction, so a
    long run never holds every row and a failure keeps the batches already done. Safe to
    run again and concurrently with normal traffic; after it returns 0 the old KEKs may be
    removed from settings. Raises VaultError naming the kid, before changing anything, if a
    live key is wrapped under a KEK that is not configured; raises VaultError if a wrapped key
    fails to unwrap (that batch rolls back, earlier batches stay done).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    active = _active_kid()
    new_kek = _kek(active)
    live = CaseKey.objects.filter(shredded_at__isnull=True, wrapped_key__isnull=False)

    missing = sorted(set(live.exclude(kek_id__in=list(_configured_keks())).values_list("kek_id", flat=True)))
    if missing:
        names = ", ".join(repr(kid) for kid in missing)
        raise VaultError(
            f"Data keys are wrapped under KEK {names}, which is not configured in LIVLINA_KEKS. "
            "Add the old KEK back (alongside the new active one) and run the rotation again."
        )

    rewrapped = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                live.exclude(kek_id=active).filter(pk__gt=last_pk).select_for_update().order_by("pk")[:batch_size]
            )
            if not batch:
                return rewrapped
            now = timezone.now()
            for case_key in batch:
                data_key = _unwrap(case_key)
                case_key.wrapped_key = bytes(Aead(new_kek).encrypt(data_key, _wrap_aad(case_key.case_id, active)))
                case_key.kek_id = active
                case_key.rewrapped_at = now
            CaseKey.objects.bulk_update(batch, ["wrapped_key", "kek_id", "rewrapped_at"])
            rewrapped += len(batch)
            last_pk = batch[-1].pk
