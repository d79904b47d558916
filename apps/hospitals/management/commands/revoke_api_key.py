from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.codes import normalise_code
from apps.core.errors import DomainError
from apps.hospitals import services
from apps.hospitals.models import Hospital


class Command(BaseCommand):
    help = "Revoke a hospital's API keys (all of them, or the one with --prefix)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="institution code")
        parser.add_argument("--prefix", default="", help="revoke only the key with this prefix")
        parser.add_argument("--reason", default="revoked by operator")

    def handle(self, *args: Any, **opts: Any) -> None:
        hospital = Hospital.objects.filter(code=normalise_code(opts["code"])).first()
        if hospital is None:
            raise CommandError(f"no hospital {opts['code']}")
        try:
            count = services.api_keys_revoke_for_hospital(hospital=hospital, prefix=opts["prefix"], reason=opts["reason"])
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"revoked {count} key(s) of {hospital.code}")
