"""`import_reference icd10 PATH`: load the NHSA ICD-10 national edition (no header, 11 columns)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.benefits import services
from apps.core.errors import ValidationFailed


class Command(BaseCommand):
    help = "Load reference data used by claim checks: icd10 PATH (NHSA ICD-10 national edition CSV)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=["icd10"])
        parser.add_argument("path")

    def handle(self, *args: Any, kind: str, path: str, **options: Any) -> None:
        try:
            with open(path, "rb") as stream:
                result = services.icd10_import(stream=stream)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        except ValidationFailed as exc:
            for error in exc.errors:
                self.stderr.write(f"line {error['line']} column {error['column'] or '-'}: {error['code']}: {error['message']}")
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"{kind}: {result.rows} rows ({result.created} new, {result.updated} updated)")
