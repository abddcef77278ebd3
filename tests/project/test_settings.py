"""Settings from the environment: a production mode that is secure or refuses to start."""

from __future__ import annotations

import base64
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVLINA_")}
    env.update(
        LIVLINA_ENV="production",
        LIVLINA_DATA_DIR=str(tmp_path),
        LIVLINA_SECRET_KEY=secrets.token_urlsafe(50),
        LIVLINA_KEKS=f"k1:{key()}",
        LIVLINA_ACTIVE_KEK="k1",
        LIVLINA_ENROLLMENT_PEPPER=key(),
        LIVLINA_AUDIT_SIGNING_KEY=key(),
        LIVLINA_ALLOWED_HOSTS="livlina.example.se",
        LIVLINA_PUSH_BACKEND="log",
        # Never connected to by these checks (nothing listens on port 9).
        DATABASE_URL="postgres://livlina@127.0.0.1:9/livlina",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy_with_zero_warnings(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_reads_secrets_from_files(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(secrets.token_urlsafe(50))
    env = production_env(tmp_path, LIVLINA_SECRET_KEY_FILE=str(secret_file))
    del env["LIVLINA_SECRET_KEY"]
    assert manage("check", "--deploy", "--fail-level", "WARNING", env=env).returncode == 0


@pytest.mark.parametrize(
    "missing",
    [
        "LIVLINA_SECRET_KEY",
        "LIVLINA_KEKS",
        "LIVLINA_ENROLLMENT_PEPPER",
        "LIVLINA_AUDIT_SIGNING_KEY",
        "LIVLINA_ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
    ],
)
def test_production_refuses_to_start_without_a_secret(tmp_path, missing):
    env = production_env(tmp_path)
    del env[missing]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} must be set when LIVLINA_ENV=production" in result.stderr


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/db.sqlite3", "sqlite://:memory:", "mysql://u:secret@db/livlina"])
def test_production_refuses_a_database_that_is_not_postgresql(tmp_path, url):
    result = manage("check", env=production_env(tmp_path, DATABASE_URL=url.format(tmp=tmp_path)))
    assert result.returncode != 0
    assert "LIVLINA_ENV=production needs PostgreSQL" in result.stderr
    assert "secret" not in result.stderr  # the URL's password is not repeated


def test_production_refuses_an_active_kek_it_does_not_have(tmp_path):
    result = manage("check", env=production_env(tmp_path, LIVLINA_ACTIVE_KEK="k2"))
    assert result.returncode != 0
    assert "LIVLINA_ACTIVE_KEK='k2' is not in LIVLINA_KEKS" in result.stderr


def test_production_refuses_fcm_without_credentials(tmp_path):
    result = manage("check", env=production_env(tmp_path, LIVLINA_PUSH_BACKEND="fcm"))
    assert result.returncode != 0
    assert "LIVLINA_FCM_CREDENTIALS must be set" in result.stderr


def test_production_refuses_a_short_key(tmp_path):
    result = manage("check", env=production_env(tmp_path, LIVLINA_ENROLLMENT_PEPPER="c2hvcnQ="))
    assert result.returncode != 0
    assert "LIVLINA_ENROLLMENT_PEPPER must decode to 32 bytes" in result.stderr


def test_seed_demo_refuses_in_production_without_force(tmp_path):
    result = manage("seed_demo", "--json", env=production_env(tmp_path))
    assert result.returncode != 0
    assert "refuses to run in production without --force" in result.stderr


def test_development_generates_its_keys_once_with_mode_0600(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVLINA_", "DATABASE_URL", "REDIS_URL"))}
    env["LIVLINA_DATA_DIR"] = str(tmp_path)
    assert manage("check", env=env).returncode == 0
    keys = tmp_path / "keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    first = keys.read_text()
    assert manage("check", env=env).returncode == 0
    assert keys.read_text() == first


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(settings):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the embedded default only")
    options = settings.DATABASES["default"]["OPTIONS"]
    assert "journal_mode=WAL" in options["init_command"]
    assert options["timeout"] >= 5
    assert options["transaction_mode"] == "IMMEDIATE"
