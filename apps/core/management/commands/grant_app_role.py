import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.dbroles import app_role_grant
from apps.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Grant ROLE what the web and worker processes need (SELECT/INSERT/UPDATE/DELETE on tables, USAGE on sequences, "
        "also on tables later migrations create) and nothing more. Run as the owner of the tables."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role")
        parser.add_argument("--create", action="store_true", help="create the role (LOGIN, nothing else) when it is missing")
        parser.add_argument("--password-stdin", action="store_true", help="with --create: read the role's password from standard input")
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **opts: Any) -> None:
        password = sys.stdin.readline().rstrip("\n") if opts["password_stdin"] else None
        try:
            app_role_grant(role=opts["role"], create=opts["create"], password=password, using=opts["database"])
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"granted {opts['role']} the application's privileges")
