"""Issue 22: the stored diff's release key checked once per statement (apps.core.statement_fks)
instead of once per row, and its own index dropped (release_change_code_unique leads with it)."""

import django.db.models.deletion
from django.db import migrations, models

from apps.core.statement_fks import StatementForeignKey

RELEASE_KEY = StatementForeignKey(child="catalog_releasechange", column="release_id", parent="catalog_catalogrelease")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0009_statement_foreign_key_functions"),
        ("catalog", "0010_items_replacing_index_restored"),
    ]

    operations = [
        migrations.AlterField(
            model_name="releasechange",
            name="release",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="changes",
                to="catalog.catalogrelease",
                verbose_name="release",
            ),
        ),
        migrations.RunSQL(RELEASE_KEY.create_sql(), RELEASE_KEY.drop_sql()),
    ]
