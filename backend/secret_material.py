"""Where Livlina's secrets come from.

In development every secret is generated on first run into ``LIVLINA_DATA_DIR/keys.json``
(mode 0600), so a newcomer needs no setup. In production nothing is generated: each
secret must come from the environment (or a file named there), and a missing one stops
the process at start-up instead of silently running on a weak default.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

KEY_FILE_NAME = "keys.json"
# Every key here (key-encryption keys, the enrollment pepper, the audit signing seed) is
# 256 bits.
KEY_BYTES = 32


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _generated_development_keys() -> dict[str, object]:
    return {
        "secret_key": secrets.token_urlsafe(50),
        "keks": {"dev-1": _b64(secrets.token_bytes(KEY_BYTES))},
        "active_kek": "dev-1",
        "enrollment_pepper": _b64(secrets.token_bytes(KEY_BYTES)),
        "audit_signing_key": _b64(secrets.token_bytes(KEY_BYTES)),
    }


def load_development_keys(data_dir: Path) -> dict[str, object]:
    """Read the development key file, creating it (0600) on first run."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        keys = _generated_development_keys()
        # O_EXCL: two processes starting at once must not overwrite each other's keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                json.dump(keys, f, indent=2)
            return keys
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


def decode_key(value: str, *, name: str) -> bytes:
    """Decode a base64 ``KEY_BYTES``-byte key, naming the setting when it is malformed."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name} is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise ImproperlyConfigured(f"{name} must decode to {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def parse_keks(spec: str, *, name: str = "LIVLINA_KEKS") -> dict[str, bytes]:
    """Parse ``kid:base64key,kid2:base64key`` into ``{kid: key}``."""
    keks: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kid, sep, value = item.partition(":")
        if not sep or not kid:
            raise ImproperlyConfigured(f"{name} entries look like kid:base64key")
        keks[kid] = decode_key(value, name=f"{name}[{kid}]")
    return keks


def require_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when LIVLINA_ENV=production")
    return value


def read_env_or_file(name: str) -> str:
    """``NAME`` or the contents of the file named by ``NAME_FILE`` (for container secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return require_env(name)


def read_optional_env_or_file(name: str) -> str:
    """``read_env_or_file`` for a secret that may be absent: empty when neither is set."""
    if os.environ.get(f"{name}_FILE") or os.environ.get(name):
        return read_env_or_file(name)
    return ""
