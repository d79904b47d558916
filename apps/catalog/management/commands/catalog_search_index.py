"""catalog_search_index [LABEL ...]: write the search rows of published releases that have none
(releases published before search existed); each release in its own transaction."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.catalog import search
from apps.catalog.selectors import published_releases


class Command(BaseCommand):
    help = "Index published releases for ?q= search (those not indexed yet, or the LABELs given). Prints one line per release."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("labels", nargs="*", help="labels of published releases (default: every published release)")

    def handle(self, *args: Any, **options: Any) -> None:
        releases = published_releases().order_by("effective_from")
        if options["labels"]:
            releases = releases.filter(label__in=options["labels"])
            missing = set(options["labels"]) - set(releases.values_list("label", flat=True))
            if missing:
                raise CommandError(f"no published release {', '.join(sorted(missing))}")
        for release in releases:
            written = search.release_index_locked(release_id=release.pk)
            self.stdout.write(f"{release.label}: {written} search rows written" if written else f"{release.label}: already indexed")
