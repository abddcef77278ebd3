import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.administration.demo import seed_demo


class Command(BaseCommand):
    help = "Create (or reuse) a demo programme with staff and one case, and print a fresh enrollment code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--force", action="store_true", help="allow in production")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["force"]:
            raise CommandError("seed_demo refuses to run in production without --force")
        seed = seed_demo().as_json()
        if options["json"]:
            self.stdout.write(json.dumps(seed))
            return
        self.stdout.write(f"Demo programme: {seed['programme']['name']}")
        for role, person in seed["staff"].items():
            self.stdout.write(
                f"  {role:15} username {person['username']:16} password {person['password']}"
                f"  TOTP secret {person['totp_secret']}"
            )
        self.stdout.write(
            f"Case #{seed['case']['id']} ({seed['case']['alias']}): enrollment code {seed['case']['enrollment_code']}"
        )
