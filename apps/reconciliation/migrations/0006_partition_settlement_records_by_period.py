"""Settlement records become a table partitioned by ``period`` (LIST, one partition per month;
issue 22), so a month's run scans that month's partition and old months are detached instead
of deleted (``manage.py detach_partition settlements YYYY-MM``).

The rebuild (``apps.core.partitioning.convert_to_partitioned``) copies the table LIKE the old
one, so columns other branches added come along, and carries over indexes, check constraints,
foreign keys (to the batch), grants and triggers; the primary key becomes (id, period). No table
references settlement records. A month's partition is created on demand by
``reconciliation_settlement_partition_ensure(period)`` (SECURITY DEFINER: the application's
role may not CREATE), which the import calls in a short transaction of its own before the COPY.
Not reversible: restore from a backup instead."""

from django.db import migrations

from apps.core.partitioning import PARTITION_FUNCTION_TEMPLATE, convert_to_partitioned, schema_path

TABLE = "reconciliation_settlementrecord"

COMPUTE = rf"""IF period !~ '^[0-9]{{4}}-(0[1-9]|1[0-2])$' THEN
        RAISE EXCEPTION 'not a period (YYYY-MM): %', period USING ERRCODE = 'invalid_parameter_value';
    END IF;
    name := '{TABLE}_p' || replace(period, '-', '');
    bounds := format('IN (%L)', period);"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT period FROM {TABLE} ORDER BY period")
        periods = [row[0] for row in cursor.fetchall()]
        path = schema_path(cursor)
    partitions = [(f"{TABLE}_p{period.replace('-', '')}", f"FOR VALUES IN ('{period}')") for period in periods]
    convert_to_partitioned(schema_editor=schema_editor, table=TABLE, key="period", method="LIST", partitions=partitions)
    function = (
        PARTITION_FUNCTION_TEMPLATE.replace("{function}", "reconciliation_settlement_partition_ensure")
        .replace("{argument}", "period text")
        .replace("{argtype}", "text")
        .replace("{parent}", TABLE)
        .replace("{compute}", COMPUTE)
        .replace("{path}", path)
    )
    schema_editor.execute(function, None)


class Migration(migrations.Migration):
    dependencies = [("reconciliation", "0005_database_defaults_for_raw_inserts")]
    operations = [migrations.RunPython(forwards)]
