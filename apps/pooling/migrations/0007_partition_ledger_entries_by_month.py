"""Ledger entries become a table partitioned by month of ``posted_at`` (RANGE, months of the
portal's time zone; issue 22).

The table is rebuilt by ``apps.core.partitioning.convert_to_partitioned`` (LIKE the old one,
whatever its columns; indexes, constraints, foreign keys, grants and triggers carried over): the
primary key becomes (id, posted_at) and the unique (transfer, account) becomes (transfer,
account, posted_at), as PostgreSQL requires the partition key in them. Both entries of a
transfer share ``posted_at``, and the deferred balance trigger still proves exactly two entries
per posted transfer, so nothing the old constraint guarded is lost. No table references entries.

Partitions: one per month holding entries, plus this month and the next; later months are
created on demand by ``pooling_ledger_partition_ensure(timestamptz)`` (SECURITY DEFINER: the
application's role may not CREATE), which the posting path calls before it writes entries.
Not reversible (the rows would have to move back): restore from a backup instead."""

from django.conf import settings
from django.db import migrations, models

from apps.core.partitioning import PARTITION_FUNCTION_TEMPLATE, convert_to_partitioned, schema_path

TABLE = "pooling_ledgerentry"


def _function(tz: str) -> str:
    compute = f"""name := '{TABLE}_m' || to_char(at AT TIME ZONE '{tz}', 'YYYYMM');
    bounds := format('FROM (%L) TO (%L)',
        date_trunc('month', at AT TIME ZONE '{tz}') AT TIME ZONE '{tz}',
        (date_trunc('month', at AT TIME ZONE '{tz}') + interval '1 month') AT TIME ZONE '{tz}');"""
    return (
        PARTITION_FUNCTION_TEMPLATE.replace("{function}", "pooling_ledger_partition_ensure")
        .replace("{argument}", "at timestamptz")
        .replace("{argtype}", "timestamptz")
        .replace("{parent}", TABLE)
        .replace("{compute}", compute)
    )


def forwards(apps, schema_editor):
    tz = settings.TIME_ZONE
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH months AS (
                SELECT DISTINCT date_trunc('month', posted_at AT TIME ZONE %s) AS m FROM {TABLE}
                UNION SELECT date_trunc('month', now() AT TIME ZONE %s)
                UNION SELECT date_trunc('month', now() AT TIME ZONE %s) + interval '1 month'
            )
            SELECT to_char(m, 'YYYYMM'), quote_literal((m AT TIME ZONE %s)::text), quote_literal(((m + interval '1 month') AT TIME ZONE %s)::text)
              FROM months ORDER BY m
            """,
            [tz] * 5,
        )
        months = cursor.fetchall()
        path = schema_path(cursor)
    partitions = [(f"{TABLE}_m{month}", f"FOR VALUES FROM ({start}) TO ({end})") for month, start, end in months]
    convert_to_partitioned(schema_editor=schema_editor, table=TABLE, key="posted_at", method="RANGE", partitions=partitions)
    schema_editor.execute(_function(tz).replace("{path}", path), None)


class Migration(migrations.Migration):
    atomic = True
    dependencies = [("pooling", "0006_provincial_pooling")]
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards)],
            state_operations=[
                migrations.RemoveConstraint(model_name="ledgerentry", name="ledger_entry_one_per_account_per_transfer"),
                migrations.AddConstraint(
                    model_name="ledgerentry",
                    constraint=models.UniqueConstraint(
                        fields=("transfer", "account", "posted_at"), name="ledger_entry_one_per_account_per_transfer"
                    ),
                ),
            ],
        )
    ]
