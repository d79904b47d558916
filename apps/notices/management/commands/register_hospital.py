from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.catalog.models import HospitalLevel
from apps.core.errors import DomainError
from apps.hospitals import services
from apps.notices import services as notices

# This command lives in the notices app (not hospitals) because --webhook-url registers an
# endpoint, and hospitals, the lower layer, never imports notices.


class Command(BaseCommand):
    help = "Add a hospital to the registry; with --webhook-url, print its webhook secret once (whsec_…)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="institution code, H or P + 11 digits")
        parser.add_argument("--name", required=True)
        parser.add_argument("--province", required=True, help="GB/T 2260 province code, e.g. 310000")
        parser.add_argument("--level", default=HospitalLevel.UNRATED, help=f"one of {' '.join(HospitalLevel.values)}")
        parser.add_argument("--region", default="", help="pooling region code (default: from the institution code)")
        parser.add_argument("--webhook-url", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        url = opts["webhook_url"]
        try:
            with transaction.atomic():  # the hospital and its endpoint, or neither
                hospital = services.hospital_register(
                    code=opts["code"], name=opts["name"], province_code=opts["province"], level=opts["level"], region_code=opts["region"]
                )
                secret = notices.endpoint_create(hospital=hospital, url=url)[1] if url else ""
        except DomainError as exc:
            fields = ", ".join(f"{e.get('field')}: {e.get('code')}: {e.get('message')}" for e in exc.errors)
            raise CommandError(f"{exc.detail}" + (f" ({fields})" if fields else "")) from exc
        if secret:
            self.stdout.write(secret)
        else:
            self.stderr.write(f"registered {hospital.code} {hospital.name}")
