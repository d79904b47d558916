"""Beat creates the ledger entries' partition of this month and the next daily
(``pooling.ledger_partitions_ensure``, editable in admin): a month's first posting then finds its
partition instead of creating it, which holds the entries table's lock until that posting commits."""

from django.db import migrations

TASK = "pooling.ledger_partitions_ensure"
NAME = "Pooling: ledger partitions of this and next month (daily)"


def add_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="15", hour="1", day_of_month="*", month_of_year="*", day_of_week="*", defaults={"timezone": "Asia/Shanghai"}
    )
    PeriodicTask.objects.get_or_create(name=NAME, defaults={"task": TASK, "crontab": crontab, "enabled": True})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pooling", "0010_model_labels_through_gettext"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
