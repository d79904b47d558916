"""Issue 22: the outbox's five foreign keys checked once per statement instead of once per row
(apps.core.statement_fks), and the LIKE-pattern index on webhook_id dropped: migration 0005 made
webhook_id a plain column under a unique constraint, but the index Django had added beside the
old unique field kept its ``hospitals_`` name from before the move, so it was never dropped."""

import django.db.models.deletion
from django.db import migrations, models

from apps.core.statement_fks import StatementForeignKey

# The outbox rows a publish writes for every hospital: counter, notice, delivery.
OUTBOX_KEYS = (
    StatementForeignKey(child="notices_noticecounter", column="hospital_id", parent="hospitals_hospital"),
    StatementForeignKey(child="notices_changenotice", column="hospital_id", parent="hospitals_hospital"),
    StatementForeignKey(child="notices_changenotice", column="release_id", parent="catalog_catalogrelease"),
    StatementForeignKey(child="notices_noticedelivery", column="notice_id", parent="notices_changenotice"),
    StatementForeignKey(child="notices_noticedelivery", column="endpoint_id", parent="notices_webhookendpoint"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0009_model_labels_through_gettext"),
        ("hospitals", "0009_model_labels_through_gettext"),
        ("notices", "0005_outbox_indexes_it_needs"),
        ("core", "0009_statement_foreign_key_functions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="changenotice",
            name="hospital",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notices",
                to="hospitals.hospital",
                verbose_name="hospital",
            ),
        ),
        migrations.AlterField(
            model_name="changenotice",
            name="release",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="notices",
                to="catalog.catalogrelease",
                verbose_name="release",
            ),
        ),
        migrations.AlterField(
            model_name="noticecounter",
            name="hospital",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                primary_key=True,
                related_name="notice_counter",
                serialize=False,
                to="hospitals.hospital",
                verbose_name="hospital",
            ),
        ),
        migrations.AlterField(
            model_name="noticedelivery",
            name="endpoint",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="notices.webhookendpoint",
                verbose_name="endpoint",
            ),
        ),
        migrations.AlterField(
            model_name="noticedelivery",
            name="notice",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="notices.changenotice",
                verbose_name="notice",
            ),
        ),
        migrations.RunSQL(
            "".join(key.create_sql() for key in OUTBOX_KEYS),
            "".join(key.drop_sql() for key in OUTBOX_KEYS),
        ),
        migrations.RunSQL(
            "DROP INDEX IF EXISTS hospitals_changenotice_webhook_id_58252020_like",
            migrations.RunSQL.noop,
        ),
    ]
