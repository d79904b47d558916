"""Issue 22: recording a batch clears ``failing_since`` on the endpoints that answered; the few
failing endpoints are found by a partial index instead of one key look-up per endpoint."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("hospitals", "0009_model_labels_through_gettext"),
        ("notices", "0006_outbox_keys_checked_per_statement"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="webhookendpoint",
            index=models.Index(condition=models.Q(("failing_since__isnull", False)), fields=["id"], name="webhook_endpoint_failing_idx"),
        ),
    ]
