"""HTTP and WebSocket entry point: ``daphne backend.asgi:application``."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from backend.input_validation import refuse_non_text_charsets  # noqa: E402
from backend.messaging.consumers import LivlinaConsumer  # noqa: E402
from backend.messaging.socket_auth import with_socket_credentials  # noqa: E402
from backend.realtime import serving_connections  # noqa: E402

application = serving_connections(
    ProtocolTypeRouter(
        {
            "http": refuse_non_text_charsets(django_asgi_app),
            # Channels' documented routing: Django's path() around a consumer. django-stubs types
            # path() for views only, and types-channels wants its own (stub-only) pattern class,
            # so the documented form passes neither stub.
            "websocket": URLRouter(
                [path("ws/v1/", with_socket_credentials(LivlinaConsumer.as_asgi()))]  # type: ignore[list-item, arg-type]
            ),
        }
    )
)
