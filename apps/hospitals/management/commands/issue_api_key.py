from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.codes import normalise_code
from apps.core.errors import DomainError
from apps.hospitals import services
from apps.hospitals.models import Hospital


class Command(BaseCommand):
    help = "Print a new API key for a hospital (the only output line; it is not shown again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="institution code")
        parser.add_argument("--name", default="", help="what the key is for")

    def handle(self, *args: Any, **opts: Any) -> None:
        hospital = Hospital.objects.filter(code=normalise_code(opts["code"])).first()
        if hospital is None:
            raise CommandError(f"no hospital {opts['code']}")
        try:
            _, raw = services.api_key_issue(hospital=hospital, name=opts["name"])
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(raw)
