import atexit
import os

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "backend.operations"
    label = "operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from backend.operations.exposition import forget_this_process  # noqa: PLC0415 - only in multiprocess mode

            # A process that exits (Daphne on SIGTERM, a worker) stops counting its live gauges.
            atexit.register(forget_this_process)
