"""Fund accounts are named in Chinese only: "上海市 省级调剂金", not "上海市 省级调剂金 (provincial
adjustment fund)". The English in brackets was read by every clerk on every page (issue 17);
the English UI names an account by the same Chinese name (a proper name) and its kind's label.
Each renamed account gets a history row saying why."""

from django.db import migrations

RENAME = r"""
WITH renamed AS (
    UPDATE pooling_fundaccount
       SET name = regexp_replace(name, '\s*\([A-Za-z][^()]*\)$', '')
     WHERE name ~ '\([A-Za-z][^()]*\)$'
 RETURNING *
)
INSERT INTO pooling_historicalfundaccount
       (id, kind, name, overdraft_limit_fen, created_at, closed_at, province_id, region_id,
        history_date, history_change_reason, history_type, history_user_id)
SELECT id, kind, name, overdraft_limit_fen, created_at, closed_at, province_id, region_id,
       now(), 'name in Chinese only (issue 17)', '~', NULL
  FROM renamed
"""


class Migration(migrations.Migration):
    dependencies = [("pooling", "0011_ledger_partitions_ahead")]

    operations = [migrations.RunSQL(RENAME, reverse_sql=migrations.RunSQL.noop)]
