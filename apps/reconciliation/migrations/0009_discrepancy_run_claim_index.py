"""A rerun's carry-over looks discrepancies up by run and claim (issue 22: a month close at
national volume): the join of the new run's rows with the earlier runs' rows on (kind, claim,
side, field) had only (run, kind) to go by and walked every earlier row of the same kind for
each new row, dead ones included."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0008_settle_a_claim_once_and_partitions_ahead"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="discrepancy",
            index=models.Index(fields=["run", "settlement_id"], name="discrepancy_run_claim"),
        ),
    ]
