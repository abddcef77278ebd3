"""How an audit entry is hashed and a checkpoint signed: the canonical form both the
writer (``audit.services``) and the verifier (``audit.verification``) compute.

Every entry commits to the one before it: ``entry_hash = BLAKE2b-256(prev_hash +
canonical JSON of the entry's content)``; a checkpoint is an Ed25519 signature over
``livlina-audit-checkpoint|seq|entry_hash|created_at`` (see docs/audit.md).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from nacl.signing import SigningKey, VerifyKey

HASH_FORMAT_VERSION = 1
CHECKPOINT_DOMAIN = "livlina-audit-checkpoint"


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _iso(moment: datetime) -> str:
    # Both SQLite and PostgreSQL keep microseconds; normalising to UTC makes the string
    # independent of the connection's time zone.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _jsonable(value: Any) -> Any:
    """Reduce ``value`` to what survives a JSON column byte-for-byte on every backend.

    Floats are turned into strings: PostgreSQL's jsonb rewrites some of them (``1e+16``
    comes back as the integer ``10000000000000000``), which would break the hash.
    """
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def normalise_details(details: dict[str, Any] | None) -> dict[str, Any]:
    if not details:
        return {}
    # DjangoJSONEncoder turns datetimes, UUIDs and Decimals into strings; the round trip
    # makes the stored value exactly the hashed value.
    loaded = json.loads(json.dumps(details, cls=DjangoJSONEncoder))
    normalised = _jsonable(loaded)
    assert isinstance(normalised, dict)
    return normalised


def compute_entry_hash(
    *,
    prev_hash: str,
    seq: int,
    created_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    case_id: int | None,
    target: str,
    reason: str,
    details: Any,
) -> str:
    """BLAKE2b-256 (hex) of ``prev_hash`` followed by the canonical JSON of the content."""
    content = {
        "v": HASH_FORMAT_VERSION,
        "seq": seq,
        "created_at": _iso(created_at),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "case_id": case_id,
        "target": target,
        "reason": reason,
        "details": details,
    }
    digest = hashlib.blake2b(digest_size=32)
    digest.update(prev_hash.encode("ascii"))
    digest.update(_canonical_json(content).encode("utf-8"))
    return digest.hexdigest()


def signing_key() -> SigningKey:
    return SigningKey(bytes(settings.LIVLINA_AUDIT_SIGNING_KEY))


def key_id_for(verify_key: VerifyKey) -> str:
    """The first 16 hex digits of the public key: names the key that signed a checkpoint."""
    return bytes(verify_key).hex()[:16]


def checkpoint_message(*, seq: int, entry_hash: str, created_at: datetime) -> bytes:
    return f"{CHECKPOINT_DOMAIN}|{seq}|{entry_hash}|{_iso(created_at)}".encode("ascii")


def checkpoint_every() -> int:
    every = int(settings.LIVLINA_AUDIT_CHECKPOINT_EVERY)
    if every < 1:
        raise ImproperlyConfigured("LIVLINA_AUDIT_CHECKPOINT_EVERY must be at least 1")
    return every
