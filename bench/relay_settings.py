"""Minimal Django settings for the bare Channels relay (the benchmark's floor): no
database, no apps of Livlina, the same channel layer as Livlina in production."""

import os

SECRET_KEY = "bench-relay-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
DATABASES: dict = {}
USE_TZ = True
ASGI_APPLICATION = "bench.relay_app.application"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")],
            # Pub/sub channels are global to the Redis server: keep ours apart.
            "prefix": "livlina-bench-relay",
        },
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LIVLINA_LOG_LEVEL", "WARNING")},
}
