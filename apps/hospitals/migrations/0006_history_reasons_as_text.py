from django.db import migrations, models


class Migration(migrations.Migration):
    """History reasons are never cut to 100 characters (the notice models follow in their own app)."""

    dependencies = [
        ("hospitals", "0005_delivery_leaner_indexes"),
    ]

    operations = [
        migrations.AlterField(model_name="historicalapikey", name="history_change_reason", field=models.TextField(null=True)),
        migrations.AlterField(model_name="historicalhospital", name="history_change_reason", field=models.TextField(null=True)),
    ]
