"""Django settings for Livlina, read from the environment (see docs/configuration.md).

``LIVLINA_ENV=development`` (default) runs on the embedded default: SQLite in the data
folder, the in-memory channel layer, generated keys. ``LIVLINA_ENV=production`` turns
DEBUG off, enables every secure setting and refuses to start without its secrets.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE as CSP_NONE
from django.core.exceptions import ImproperlyConfigured

from backend import secret_material, structured_logs

BASE_DIR = Path(__file__).resolve().parent.parent

LIVLINA_ENV = os.environ.get("LIVLINA_ENV", "development")
if LIVLINA_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("LIVLINA_ENV must be 'development' or 'production'")
PRODUCTION = LIVLINA_ENV == "production"

DATA_DIR = Path(os.environ.get("LIVLINA_DATA_DIR", BASE_DIR / "var")).resolve()

# --- secrets -------------------------------------------------------------------------
if PRODUCTION:
    SECRET_KEY = secret_material.read_env_or_file("LIVLINA_SECRET_KEY")
    LIVLINA_KEKS = secret_material.parse_keks(secret_material.read_env_or_file("LIVLINA_KEKS"))
    LIVLINA_ACTIVE_KEK = secret_material.require_env("LIVLINA_ACTIVE_KEK")
    LIVLINA_ENROLLMENT_PEPPER = secret_material.decode_key(
        secret_material.read_env_or_file("LIVLINA_ENROLLMENT_PEPPER"),
        name="LIVLINA_ENROLLMENT_PEPPER",
    )
    LIVLINA_AUDIT_SIGNING_KEY = secret_material.decode_key(
        secret_material.read_env_or_file("LIVLINA_AUDIT_SIGNING_KEY"),
        name="LIVLINA_AUDIT_SIGNING_KEY",
    )
else:
    _dev_keys = secret_material.load_development_keys(DATA_DIR)
    SECRET_KEY = str(_dev_keys["secret_key"])
    _dev_keks = _dev_keys["keks"]
    assert isinstance(_dev_keks, dict)
    LIVLINA_KEKS = {
        kid: secret_material.decode_key(value, name=f"keys.json keks[{kid}]") for kid, value in _dev_keks.items()
    }
    if os.environ.get("LIVLINA_KEKS"):
        LIVLINA_KEKS.update(secret_material.parse_keks(os.environ["LIVLINA_KEKS"]))
    LIVLINA_ACTIVE_KEK = os.environ.get("LIVLINA_ACTIVE_KEK", str(_dev_keys["active_kek"]))
    LIVLINA_ENROLLMENT_PEPPER = secret_material.decode_key(
        str(_dev_keys["enrollment_pepper"]), name="enrollment_pepper"
    )
    LIVLINA_AUDIT_SIGNING_KEY = secret_material.decode_key(
        str(_dev_keys["audit_signing_key"]), name="audit_signing_key"
    )
if LIVLINA_ACTIVE_KEK not in LIVLINA_KEKS:
    raise ImproperlyConfigured(f"LIVLINA_ACTIVE_KEK={LIVLINA_ACTIVE_KEK!r} is not in LIVLINA_KEKS")

DEBUG = not PRODUCTION and os.environ.get("LIVLINA_DEBUG", "1") == "1"

if PRODUCTION:
    ALLOWED_HOSTS = [h.strip() for h in secret_material.require_env("LIVLINA_ALLOWED_HOSTS").split(",") if h.strip()]
else:
    ALLOWED_HOSTS = [
        h.strip()
        for h in os.environ.get("LIVLINA_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")
        if h.strip()
    ]
# Origins allowed to open an inbox WebSocket with a session cookie.
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("LIVLINA_TRUSTED_ORIGINS", "").split(",") if o.strip()]

# --- apps ----------------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files for /api/v1/docs/, served from here
    "channels",
    "backend.accounts",
    "backend.cases",
    "backend.vault",
    "backend.audit",
    "backend.push",
    "backend.messaging",
    "backend.checkins",
    "backend.crisis",
    "backend.administration",
    "backend.inbox",
    "backend.operations",
    "backend.worker",
]

MIDDLEWARE = [
    "backend.operations.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the inbox's CSS and JavaScript) are answered before sessions load.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "backend.input_validation.refuse_foreign_hosts_as_problems",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backend.operations.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "backend.urls"
ASGI_APPLICATION = "backend.asgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "backend.inbox.context.inbox",
            ]
        },
    }
]

# --- database ------------------------------------------------------------------------
# Either may come from a file (DATABASE_URL_FILE, REDIS_URL_FILE): they hold passwords.
DATABASE_URL = secret_material.read_optional_env_or_file("DATABASE_URL")
if PRODUCTION and not DATABASE_URL:
    raise ImproperlyConfigured("DATABASE_URL must be set when LIVLINA_ENV=production")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    if PRODUCTION and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        # Several processes, row locks, sequences without gaps: the embedded SQLite default
        # is for development only. (The URL itself is not repeated: it holds a password.)
        raise ImproperlyConfigured(
            f"LIVLINA_ENV=production needs PostgreSQL: DATABASE_URL names {DATABASES['default']['ENGINE']!r}"
        )
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "livlina.sqlite3"),
            "OPTIONS": {
                # WAL lets readers and one writer work at once; the busy timeout makes a
                # second process (Daphne and run_worker) wait instead of failing with
                # "database is locked"; IMMEDIATE takes the write lock at BEGIN so two
                # transactions never deadlock upgrading read locks.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- channel layer and cache ---------------------------------------------------------
REDIS_URL = secret_material.read_optional_env_or_file("REDIS_URL")
if PRODUCTION and not REDIS_URL:
    # Throttles and live delivery must be shared by every server process.
    raise ImproperlyConfigured("REDIS_URL must be set when LIVLINA_ENV=production")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: the database is the source of truth, the layer only carries live
            # frames, and pub/sub has no per-process capacity that silently drops them.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "livlina",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- authentication ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/inbox/login/"
# Staff sessions end after 30 idle minutes, and never live longer than 12 hours.
SESSION_COOKIE_AGE = int(os.environ.get("LIVLINA_SESSION_IDLE_SECONDS", "1800"))
SESSION_SAVE_EVERY_REQUEST = True
LIVLINA_SESSION_MAX_AGE = timedelta(hours=12)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
OTP_TOTP_ISSUER = "Livlina"

LIVLINA_ACCESS_TOKEN_TTL = timedelta(minutes=15)
LIVLINA_REFRESH_TOKEN_TTL = timedelta(days=30)
LIVLINA_REFRESH_CLOCK_SKEW = timedelta(minutes=5)
LIVLINA_ENROLLMENT_CODE_TTL = timedelta(hours=24)
LIVLINA_BREAK_GLASS_TTL = timedelta(hours=4)
LIVLINA_AUDIT_CHECKPOINT_EVERY = int(os.environ.get("LIVLINA_AUDIT_CHECKPOINT_EVERY", "100"))

# Per device (or staff member without a device), REST and WebSocket together.
LIVLINA_MESSAGE_RATE = os.environ.get("LIVLINA_MESSAGE_RATE", "120/minute")
# Per WebSocket connection: frames a second and burst (over it: an error frame, not a close).
LIVLINA_SOCKET_RATE = float(os.environ.get("LIVLINA_SOCKET_RATE", "10"))
LIVLINA_SOCKET_BURST = float(os.environ.get("LIVLINA_SOCKET_BURST", "30"))
# How often an open socket re-checks its credential (revocation, logout) in the database.
LIVLINA_SOCKET_RECHECK_SECONDS = float(os.environ.get("LIVLINA_SOCKET_RECHECK_SECONDS", "30"))
# Open sockets per device, across every process; a newer one closes the oldest (4409).
LIVLINA_SOCKETS_PER_DEVICE = int(os.environ.get("LIVLINA_SOCKETS_PER_DEVICE", "5"))

# How long a worker holds a claimed escalation step before another may take it over.
LIVLINA_ESCALATION_LEASE_SECONDS = float(os.environ.get("LIVLINA_ESCALATION_LEASE_SECONDS", "30"))

# Staff logins: wrong attempts on one account before it backs off (2 s, 4 s, … doubling),
# and the longest back-off, so its owner is never locked out for longer.
LIVLINA_LOGIN_FREE_FAILURES = int(os.environ.get("LIVLINA_LOGIN_FREE_FAILURES", "5"))
LIVLINA_LOGIN_BACKOFF_MAX_SECONDS = int(os.environ.get("LIVLINA_LOGIN_BACKOFF_MAX_SECONDS", "900"))

# Wrong check-in PINs before the PIN is locked, and for how long.
LIVLINA_PIN_MAX_FAILURES = int(os.environ.get("LIVLINA_PIN_MAX_FAILURES", "5"))
LIVLINA_PIN_LOCKOUT = timedelta(minutes=15)

# --- push ----------------------------------------------------------------------------
LIVLINA_PUSH_BACKEND = os.environ.get("LIVLINA_PUSH_BACKEND", "fcm" if PRODUCTION else "log")
LIVLINA_FCM_CREDENTIALS = os.environ.get("LIVLINA_FCM_CREDENTIALS", "")
LIVLINA_FCM_PROJECT_ID = os.environ.get("LIVLINA_FCM_PROJECT_ID", "")
LIVLINA_FCM_TIMEOUT_SECONDS = float(os.environ.get("LIVLINA_FCM_TIMEOUT_SECONDS", "10"))
if PRODUCTION and LIVLINA_PUSH_BACKEND == "fcm" and not LIVLINA_FCM_CREDENTIALS:
    raise ImproperlyConfigured("LIVLINA_FCM_CREDENTIALS must be set when LIVLINA_PUSH_BACKEND=fcm in production")

# --- REST API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backend.accounts.authentication.DeviceTokenAuthentication",
        "backend.accounts.authentication.VerifiedStaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["backend.input_validation.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "backend.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "backend.api_schema.ProblemAutoSchema",
    "UNAUTHENTICATED_USER": None,
    # Client addresses come from REMOTE_ADDR only (Daphne --proxy-headers sets it behind the
    # TLS proxy); a client-sent X-Forwarded-For must not buy a fresh throttle budget.
    "NUM_PROXIES": 0,
    "DEFAULT_THROTTLE_RATES": {
        "enroll_address": os.environ.get("LIVLINA_ENROLL_RATE_PER_ADDRESS", "10/hour"),
        "enroll_global": os.environ.get("LIVLINA_ENROLL_RATE_GLOBAL", "200/hour"),
        "staff_login": "20/hour",
        # A phone's own push-token and name updates, per device.
        "device_update": os.environ.get("LIVLINA_DEVICE_UPDATE_RATE", "30/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Livlina API",
    "DESCRIPTION": "Mobile-facing and staff API of Livlina. Errors are application/problem+json (RFC 9457).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/v1/docs/ loads Swagger UI from this server, and asks no outside validator.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "StaffRoleEnum": "backend.accounts.models.StaffRole.Role",
        "AssignmentRoleEnum": "backend.cases.models.CaseAssignment.Role",
        "DeviceRoleEnum": [("defector", "defector"), ("staff", "staff")],
        "AlertStateEnum": "backend.crisis.models.Alert.State",
        "ShredStateEnum": "backend.administration.case_services.SHRED_STATES",
    },
}

# No API body needs more than a message of 4,000 characters and its envelope.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

# --- i18n, static --------------------------------------------------------------------
# The API speaks English; the inbox is Swedish by default with English available, and
# activates the staff member's own choice (``backend/inbox/language.py``).
LANGUAGE_CODE = "en"
LANGUAGES = [("sv", "Svenska"), ("en", "English")]
LIVLINA_INBOX_DEFAULT_LANGUAGE = "sv"
# The API speaks UTC; the inbox shows staff their own time (LIVLINA_INBOX_TIME_ZONE).
TIME_ZONE = "UTC"
LIVLINA_INBOX_TIME_ZONE = os.environ.get("LIVLINA_INBOX_TIME_ZONE", "Europe/Stockholm")
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
# The container image bakes collected static files in at LIVLINA_STATIC_ROOT.
STATIC_ROOT = Path(os.environ.get("LIVLINA_STATIC_ROOT", DATA_DIR / "static"))
# Hashed, compressed names (``collectstatic``, run by ``./livlina run`` and the deployment
# images) so browsers may cache them for a year; in development WhiteNoise also serves
# straight from the apps' folders.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- content security policy -----------------------------------------------------------
# The API returns JSON and nothing to render: it may load nothing and be framed by nobody.
# The inbox's pages replace this with their own policy (``backend/inbox/pages.py``).
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}}

# --- logging, probes, metrics ---------------------------------------------------------
# JSON lines in production (one object per line, for the log collector), readable lines in
# development; both redacted (backend/structured_logs.py).
LIVLINA_LOG_FORMAT = os.environ.get("LIVLINA_LOG_FORMAT", "json" if PRODUCTION else "console")
if LIVLINA_LOG_FORMAT not in {"json", "console"}:
    raise ImproperlyConfigured("LIVLINA_LOG_FORMAT must be 'json' or 'console'")
LOGGING = structured_logs.logging_config(
    json_lines=LIVLINA_LOG_FORMAT == "json", level=os.environ.get("LIVLINA_LOG_LEVEL", "INFO")
)
# /readyz fails when no worker has beaten for this long (a worker beats every 5 s).
LIVLINA_WORKER_HEARTBEAT_STALE_SECONDS = float(os.environ.get("LIVLINA_WORKER_HEARTBEAT_STALE_SECONDS", "30"))
# /metrics wants this bearer token; without one it is served in development only.
LIVLINA_METRICS_TOKEN = secret_material.read_optional_env_or_file("LIVLINA_METRICS_TOKEN")

# --- production hardening ------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
# The API answers JSON only: nothing in it may load, run or be framed. This is every
# response's default; a view that serves a page gives itself its own policy with
# django-csp's per-view decorators.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [CSP_NONE], "frame-ancestors": [CSP_NONE]}}
X_FRAME_OPTIONS = "DENY"
# same-origin, not no-referrer: under no-referrer browsers send "Origin: null" with the
# inbox's own form posts, which Django's CSRF check rejects.
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Probes and scrapes come straight to the process over plain HTTP, not via the proxy.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = 63072000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-livlina-session"
    CSRF_COOKIE_NAME = "__Host-livlina-csrf"
