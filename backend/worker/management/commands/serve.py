from typing import Any

from daphne.cli import CommandLineInterface
from django.core.management.base import BaseCommand, CommandParser

from backend.worker.loop import Worker


class Command(BaseCommand):
    help = "Serve HTTP and WebSocket with Daphne, with the worker in the same process (the embedded default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--no-worker", action="store_true", help="run the worker separately (run_worker)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_worker"]:
            Worker().start_in_thread()
        self.stdout.write(f"Livlina on http://{options['host']}:{options['port']}/inbox/  (Ctrl-C stops)")
        # -v 0: no Daphne access log; RequestLogMiddleware writes the one line per request.
        # --no-server-name: no "Server: daphne" header telling a scanner what to try.
        CommandLineInterface().run(
            [
                "-v",
                "0",
                "-b",
                options["host"],
                "-p",
                str(options["port"]),
                "--no-server-name",
                "backend.asgi:application",
            ]
        )
