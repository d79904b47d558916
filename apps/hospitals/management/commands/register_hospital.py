from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.catalog.models import HospitalLevel
from apps.core.errors import DomainError
from apps.hospitals import services
from apps.hospitals.models import Hospital


def add_webhook(*, hospital: Hospital, url: str) -> str:
    """HOOK for the webhook/notices work: register ``url`` for ``hospital`` and return the
    signing secret (``whsec_…``) to print once. Replaced when webhook endpoints exist."""
    from apps.hospitals.notices import endpoint_create

    try:
        _, secret = endpoint_create(hospital=hospital, url=url)
    except DomainError as exc:
        raise CommandError(f"{exc.detail} (hospital {hospital.code} was registered without a webhook)") from exc
    return secret


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
        try:
            hospital = services.hospital_register(
                code=opts["code"], name=opts["name"], province_code=opts["province"], level=opts["level"], region_code=opts["region"]
            )
        except DomainError as exc:
            fields = ", ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors)
            raise CommandError(f"{exc.detail}" + (f" ({fields})" if fields else "")) from exc
        if opts["webhook_url"]:
            self.stdout.write(add_webhook(hospital=hospital, url=opts["webhook_url"]))
        else:
            self.stderr.write(f"registered {hospital.code} {hospital.name}")
