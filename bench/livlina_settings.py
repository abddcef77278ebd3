"""Livlina's own settings, unchanged, except the channel layer's key prefix.

Redis pub/sub channels are global to the Redis server (not per database number), so a
benchmark on ``redis://…/5`` would otherwise share ``asgi__group__user.<id>`` with any
test suite running against the same Redis at the same time. A prefix keeps the two apart
without touching any code path.
"""

from backend.settings import *  # noqa: F403
from backend.settings import CHANNEL_LAYERS

CHANNEL_LAYERS["default"].setdefault("CONFIG", {})["prefix"] = "livlina-bench"
