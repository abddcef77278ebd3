import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from backend.operations import heartbeat


class Command(BaseCommand):
    help = (
        "Exit 0 when a worker beat recently (on this host with --this-host), 1 otherwise: "
        "a liveness probe for worker containers, which serve no HTTP."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--this-host", action="store_true", help="only workers on this host (a pod's own)")

    def handle(self, *args: Any, **options: Any) -> None:
        newest = heartbeat.newest_beat(host=heartbeat.this_host() if options["this_host"] else None)
        if newest is None:
            self.stderr.write("no worker heartbeat")
            sys.exit(1)
        age = timezone.now() - newest
        self.stdout.write(f"newest worker heartbeat {int(age.total_seconds())} s old")
        if age > heartbeat.stale_after():
            sys.exit(1)
