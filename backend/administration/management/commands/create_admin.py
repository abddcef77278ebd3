from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from backend.administration.staff_services import SETUP_LINK_TTL, bootstrap_admin
from backend.problems import Problem


class Command(BaseCommand):
    help = (
        "Create the programme if it is new and an admin in it, and print a one-time setup link where the admin "
        "sets a password and enrols an authenticator. No secret is given on the command line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--programme", required=True, help="the programme's name")
        parser.add_argument("--username", required=True, help="the admin's username")
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="where staff reach this installation (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            programme, user, token = bootstrap_admin(programme_name=options["programme"], username=options["username"])
        except Problem as problem:
            raise CommandError(str(problem.detail)) from None
        url = options["base_url"].rstrip("/") + reverse("account-setup", args=[token])
        hours = int(SETUP_LINK_TTL.total_seconds() // 3600)
        self.stdout.write(f"Programme #{programme.pk} {programme.name}: admin {user.username} (user #{user.pk}).")
        self.stdout.write(f"Open this link within {hours} hours to set a password and an authenticator (works once):")
        self.stdout.write(url)
