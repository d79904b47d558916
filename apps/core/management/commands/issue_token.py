from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.core.services import token_issue


class Command(BaseCommand):
    help = "Print a new API token for a staff user (the only output line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"no user {opts['username']}")
        try:
            token = token_issue(user=user)
        except DomainError as exc:  # an inactive user or one without a staff role
            raise CommandError(exc.detail) from exc
        self.stdout.write(token)
