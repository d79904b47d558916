"""`import_reference icd10 PATH` / `import_reference icd9cm3 PATH`: load the NHSA ICD-10 national
edition or the NHSA ICD-9-CM-3 procedure edition (each: no header, 11 columns)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.benefits import services
from apps.core.errors import ValidationFailed

IMPORTERS = {"icd10": services.icd10_import, "icd9cm3": services.icd9cm3_import}


class Command(BaseCommand):
    help = (
        "Load reference data used by claim checks: icd10 PATH (NHSA ICD-10 national edition CSV) or "
        "icd9cm3 PATH (NHSA ICD-9-CM-3 procedure edition CSV)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=sorted(IMPORTERS))
        parser.add_argument("path")

    def handle(self, *args: Any, kind: str, path: str, **options: Any) -> None:
        try:
            with open(path, "rb") as stream:
                result = IMPORTERS[kind](stream=stream)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        except ValidationFailed as exc:
            for error in exc.errors:
                self.stderr.write(f"line {error['line']} column {error['column'] or '-'}: {error['code']}: {error['message']}")
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"{kind}: {result.rows} rows ({result.created} new, {result.updated} updated)")
