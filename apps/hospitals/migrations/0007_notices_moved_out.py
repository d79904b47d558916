"""The notice models now belong to the notices app (``notices.0001`` renamed their tables);
this app only forgets them: no table is dropped."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("hospitals", "0006_history_reasons_as_text"),
        ("notices", "0001_moved_from_hospitals"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="HistoricalNoticeDelivery"),
                migrations.DeleteModel(name="DeliveryAttempt"),
                migrations.DeleteModel(name="NoticeDelivery"),
                migrations.DeleteModel(name="HistoricalWebhookEndpoint"),
                migrations.DeleteModel(name="HistoricalReleaseAcknowledgement"),
                migrations.DeleteModel(name="ChangeNotice"),
                migrations.DeleteModel(name="WebhookEndpoint"),
                migrations.DeleteModel(name="NoticeCounter"),
                migrations.DeleteModel(name="ReleaseAcknowledgement"),
                migrations.DeleteModel(name="ItemUsage"),
            ],
        ),
    ]
