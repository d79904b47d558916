import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.core.roles import Role
from apps.core.services import staff_create


class Command(BaseCommand):
    help = "Create a staff user with one role (prints nothing secret)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--province",
            default="",
            help="GB/T 2260 province code; required for province_staff. Finance roles without it are national users.",
        )
        parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    def handle(self, *args: Any, **opts: Any) -> None:
        password = sys.stdin.readline().rstrip("\n") if opts["password_stdin"] else None
        try:
            user = staff_create(username=opts["username"], role=opts["role"], province_code=opts["province"], password=password)
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"created {user.username} as {opts['role']}")
