"""Where a push goes: FCM through firebase-admin in production, a log on the embedded default.

A sender turns one outbox row into one delivery attempt and reports the outcome; the
retry policy lives in ``push.services``. Payloads are data-only and carry no content:
a kind and the outbox row's opaque id, nothing a lock screen or Google could read.

FCM requests go through firebase-admin's own HTTP session (``requests``), so they follow
the standard ``HTTPS_PROXY`` and ``REQUESTS_CA_BUNDLE`` variables: that is how an egress
proxy is configured, and how the tests reach their local FCM stand-in through the real
firebase-admin code path (firebase-admin has no option for the FCM endpoint).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from typing_extensions import override

from backend.push.models import Outcome, PushKind, PushLogEntry, PushOutbox

logger = logging.getLogger(__name__)

ALERT_TITLE = "Livlina"
ALERT_BODY = "Nytt larm. Öppna appen."
ANDROID_ALERT_CHANNEL = "livlina_alerts"


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    detail: str = ""
    provider_id: str = ""


def payload_for(row: PushOutbox) -> dict[str, str]:
    return {"kind": str(row.kind), "ref": str(row.pk)}


class PushSender(Protocol):
    def send(self, row: PushOutbox, token: str) -> Delivery: ...


class LogSender(PushSender):
    """The embedded default: records what would be sent, where the inbox and tests see it."""

    @override
    def send(self, row: PushOutbox, token: str) -> Delivery:
        PushLogEntry.objects.create(outbox=row, device_id=row.device_id, payload=payload_for(row))
        logger.info("push (log backend) %s to device %s", row.kind, row.device_id)
        return Delivery(Outcome.SENT, provider_id=f"log:{row.pk}")


class FcmSender(PushSender):
    """The real firebase-admin code path (``messaging.send``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def build_message(self, row: PushOutbox, token: str) -> Any:
        from firebase_admin import messaging

        if row.kind == PushKind.ALERT:
            return self.build_alert(row, token)
        priority = "high" if row.high_priority else "normal"
        return messaging.Message(
            fid=token,  # the app registers its Firebase installation ID as its push token
            data=payload_for(row),
            android=messaging.AndroidConfig(priority=priority, ttl=3600),
            # A content-free wake-up is an APNs background push, which Apple only accepts
            # at priority 5; Android's data message can be high priority.
            apns=messaging.APNSConfig(
                headers={"apns-priority": "5", "apns-push-type": "background"},
                payload=messaging.APNSPayload(aps=messaging.Aps(content_available=True)),
            ),
        )

    def build_alert(self, row: PushOutbox, token: str) -> Any:
        """A staff alert must wake a phone on silent: an APNs critical alert and Android's
        high-priority alert channel. The visible text is fixed and says nothing of the case."""
        from firebase_admin import messaging

        return messaging.Message(
            fid=token,
            data=payload_for(row),
            android=messaging.AndroidConfig(
                priority="high",
                ttl=600,
                notification=messaging.AndroidNotification(
                    title=ALERT_TITLE, body=ALERT_BODY, channel_id=ANDROID_ALERT_CHANNEL, priority="max"
                ),
            ),
            apns=messaging.APNSConfig(
                headers={"apns-priority": "10", "apns-push-type": "alert"},
                payload=messaging.APNSPayload(
                    aps=messaging.Aps(
                        alert=messaging.ApsAlert(title=ALERT_TITLE, body=ALERT_BODY),
                        sound=messaging.CriticalSound("default", critical=True, volume=1.0),
                        content_available=True,
                        custom_data={"interruption-level": "critical"},
                    )
                ),
            ),
        )

    @override
    def send(self, row: PushOutbox, token: str) -> Delivery:
        from firebase_admin import exceptions, messaging

        try:
            name = messaging.send(self.build_message(row, token), app=self.app)
        except (messaging.UnregisteredError, messaging.SenderIdMismatchError) as exc:
            return Delivery(Outcome.TOKEN_DEAD, _short(exc))
        except messaging.QuotaExceededError as exc:
            return Delivery(Outcome.SLOW_DOWN, _short(exc))
        except (exceptions.InvalidArgumentError, exceptions.PermissionDeniedError) as exc:
            return Delivery(Outcome.FAILED, _short(exc))
        except exceptions.FirebaseError as exc:
            # 5xx, timeouts, connection errors, auth hiccups: transient.
            return Delivery(Outcome.RETRY, _short(exc))
        return Delivery(Outcome.SENT, provider_id=name)


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def build_firebase_app(*, name: str, credentials_path: str, project_id: str, timeout: float) -> Any:
    """A firebase-admin app, configured only through its documented options."""
    import firebase_admin
    from firebase_admin import credentials
    from google.auth.credentials import AnonymousCredentials

    options: dict[str, Any] = {"httpTimeout": timeout}
    if project_id:
        options["projectId"] = project_id
    if credentials_path:
        return firebase_admin.initialize_app(credentials.Certificate(credentials_path), options, name=name)
    # Without a service account (a local stand-in only) requests carry no token.
    # google-auth leaves AnonymousCredentials.__init__ unannotated, so mypy calls it untyped.
    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
    return firebase_admin.initialize_app(anonymous, options, name=name)


@cache
def firebase_app() -> Any:
    """The process's firebase-admin app, built once from settings."""
    return build_firebase_app(
        name="livlina",
        credentials_path=settings.LIVLINA_FCM_CREDENTIALS,
        project_id=settings.LIVLINA_FCM_PROJECT_ID,
        timeout=settings.LIVLINA_FCM_TIMEOUT_SECONDS,
    )


def current_sender() -> PushSender:
    if settings.LIVLINA_PUSH_BACKEND == "fcm":
        return FcmSender(firebase_app())
    return LogSender()
