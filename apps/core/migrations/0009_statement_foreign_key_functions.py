"""The trigger functions of foreign keys checked once per statement (apps.core.statement_fks)."""

from django.db import migrations

from apps.core.statement_fks import DROP_FUNCTIONS_SQL, FUNCTIONS_SQL


class Migration(migrations.Migration):
    dependencies = [("core", "0008_model_labels_through_gettext")]

    operations = [migrations.RunSQL(FUNCTIONS_SQL, DROP_FUNCTIONS_SQL)]
