"""Daily at 09:00 (Asia/Shanghai): remind hospitals of a release taking effect within 7 days
that they have not acknowledged (``notices.remind_unacknowledged``; editable in admin)."""

from django.db import migrations

NAME = "remind hospitals of releases they have not acknowledged"
TASK = "notices.remind_unacknowledged"


def add_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="9", day_of_month="*", month_of_year="*", day_of_week="*", defaults={"timezone": "Asia/Shanghai"}
    )
    PeriodicTask.objects.get_or_create(name=NAME, defaults={"task": TASK, "crontab": crontab, "enabled": True})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("notices", "0002_history_reasons_as_text"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(add_schedule, remove_schedule)]
