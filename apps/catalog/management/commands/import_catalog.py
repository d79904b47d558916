"""import_catalog PATH --release LABEL --format FORMAT [--user USERNAME] [--mode merge|replace]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.catalog.importers.formats import FORMATS
from apps.catalog.importers.services import MODES, release_import
from apps.catalog.models import CatalogRelease
from apps.core.bulk import BulkFileRejected
from apps.core.errors import DomainError


class Command(BaseCommand):
    help = "Import a catalog file into a draft release, synchronously, with a progress bar. Exit 1 and the row errors on a bad file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--release", required=True, help="label of the draft release")
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument("--mode", default="merge", choices=MODES)
        parser.add_argument("--user", help="staff username recorded in history (default: none, an operator)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        release = CatalogRelease.objects.filter(label=options["release"]).first()
        if release is None:
            raise CommandError(f"no release labelled {options['release']}")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']}")
        bar = tqdm(total=path.stat().st_size, unit="B", unit_scale=True, disable=options["no_progress"], file=self.stderr._out)
        try:
            with path.open("rb") as file:
                result = release_import(
                    release=release,
                    file=file,
                    fmt=options["format"],
                    mode=options["mode"],
                    user=user,
                    filename=path.name,
                    on_progress=lambda done: bar.update(done - bar.n),
                )
        except BulkFileRejected as exc:
            bar.close()
            for error in exc.errors:
                self.stderr.write(f"line {error['line']} [{error['column']}] {error['code']}: {error['message']}")
            if exc.error_count > len(exc.errors):
                self.stderr.write(f"... and {exc.error_count - len(exc.errors)} more")
            raise CommandError(exc.detail, returncode=1) from None
        except DomainError as exc:
            bar.close()
            raise CommandError(f"{exc.detail} ({exc.code})", returncode=1) from None
        bar.update(bar.total - bar.n)
        bar.close()
        self.stdout.write(
            f"{release.label}: {result['rows']} rows, {result['added']} added, {result['changed']} changed, "
            f"{result['removed']} removed, {result['unchanged']} unchanged"
        )
