"""``manage.py detach_partition ledger|settlements YYYY-MM`` (or ``--list``): detach an old month
of ledger entries or settlement records from its partitioned table (issue 22). The month's rows
stay in a table of their own, named in the output, to archive (``pg_dump -t NAME``) and drop.
DETACH is DDL: run it as the tables' owner (``DATABASE_URL`` = the migration role's URL)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.core.partitioning import partitions_of
from apps.pooling import services as pooling
from apps.reconciliation import services

TABLES = {"ledger": "pooling_ledgerentry", "settlements": "reconciliation_settlementrecord"}


class Command(BaseCommand):
    help = "Detach an old month of ledger entries or settlement records (partitioned tables); --list shows the partitions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("table", choices=sorted(TABLES))
        parser.add_argument("period", nargs="?", help="YYYY-MM")
        parser.add_argument("--list", action="store_true", help="list the table's attached partitions and stop")

    def handle(self, *args: Any, **options: Any) -> None:
        table = TABLES[options["table"]]
        if options["list"]:
            for name, bound in partitions_of(table):
                self.stdout.write(f"{name}\t{bound}")
            return
        if not options["period"]:
            raise CommandError("name the month to detach (YYYY-MM), or --list")
        detach = pooling.ledger_month_detach if options["table"] == "ledger" else services.settlement_month_detach
        try:
            detail = detach(period=options["period"])
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        counted = {k: v for k, v in detail.items() if k not in ("partition", "period")}
        self.stdout.write(f"detached {detail['partition']} ({', '.join(f'{k} {v}' for k, v in counted.items())}); archive it, then drop it")
