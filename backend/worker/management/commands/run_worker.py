import os
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.operations.exposition import forget_this_process, serve_worker_metrics
from backend.worker.loop import Worker


class Command(BaseCommand):
    help = "Run the background worker (push outbox, check-ins, escalation, audit checkpoints). Several may run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="run every job once and exit")
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=int(os.environ.get("LIVLINA_WORKER_METRICS_PORT", "0")),
            help="serve this worker's Prometheus metrics on this port (0: not served)",
        )
        parser.add_argument(
            "--metrics-address",
            default=os.environ.get("LIVLINA_WORKER_METRICS_ADDRESS", "127.0.0.1"),
            help="address the metrics port listens on",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        worker = Worker()
        if options["once"]:
            busy = worker.run_due()
            self.stdout.write(f"jobs that found work: {', '.join(busy) or 'none'}")
            return
        if options["metrics_port"]:
            serve_worker_metrics(address=options["metrics_address"], port=options["metrics_port"])
        signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: worker.stopping.set())
        try:
            worker.run_forever()
        finally:
            forget_this_process()
