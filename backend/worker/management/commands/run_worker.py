import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.worker.loop import Worker


class Command(BaseCommand):
    help = "Run the background worker (push outbox, check-ins, escalation, audit checkpoints). Several may run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="run every job once and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = Worker()
        if options["once"]:
            busy = worker.run_due()
            self.stdout.write(f"jobs that found work: {', '.join(busy) or 'none'}")
            return
        signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: worker.stopping.set())
        worker.run_forever()
