import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.administration.demo import DemoStaffJson, seed_demo


class Command(BaseCommand):
    help = "Create (or reuse) a demo programme with staff and one case, and print a fresh enrollment code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--force", action="store_true", help="allow in production")
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="where the server answers, for the steps it prints"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["force"]:
            raise CommandError("seed_demo refuses to run in production without --force")
        seed = seed_demo().as_json()
        if options["json"]:
            self.stdout.write(json.dumps(seed))
            return
        self.stdout.write(f"Demo programme #{seed['programme']['id']}: {seed['programme']['name']}")
        for role, person in seed["staff"].items():
            self._login(role, person)
        self.stdout.write("  (demo-oncall is on call around the clock, so an alert reaches someone at any hour)")
        other = seed["other_programme"]
        self.stdout.write(f"Second programme #{other['id']} (to try a transfer): {other['name']}")
        self._login("supervisor", other["supervisor"])
        self._login("contact_person", other["contact_person"])
        case, contact = seed["case"], seed["staff"]["contact_person"]
        base_url = options["base_url"].rstrip("/")
        self.stdout.write(f"Case #{case['id']} ({case['alias']}): enrollment code {case['enrollment_code']}")
        self.stdout.write("")
        self.stdout.write("Try it:")
        self.stdout.write(f"  1. Open {base_url}/inbox/ and log in as {contact['username']} with the password above")
        self.stdout.write("     and a code from the TOTP secret, or from:")
        self.stdout.write(f"     .venv/bin/python manage.py demo_totp {contact['username']}")
        self.stdout.write("  2. In another terminal, play the defector's app with the enrollment code:")
        self.stdout.write(f"     .venv/bin/python -m client.demo {base_url} {case['enrollment_code']}")
        self.stdout.write(
            f"  3. Watch the app's message arrive in case #{case['id']} in the inbox, and reply to it there."
        )
        self.stdout.write("  (Run seed_demo again for a new enrollment code; each code works once.)")

    def _login(self, role: str, person: DemoStaffJson) -> None:
        self.stdout.write(
            f"  {role:15} username {person['username']:22} password {person['password']}"
            f"  TOTP secret {person['totp_secret']}"
        )
