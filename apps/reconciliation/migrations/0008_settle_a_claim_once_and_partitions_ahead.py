"""A claim is paid once (issue 18's last defects), kept by PostgreSQL beside the services:

- a resolved discrepancy's amount nets in one run: once it has netted, ``netted_in_run`` moves
  only to a rerun of the same period that supersedes that run (netting again in its place),
  never to a run of another period and never back to nothing;
- a discrepancy left on a superseded run (the period's latest run no longer finds it: a
  correction or a withdrawal changed its claim, which may now match and be paid as matched)
  takes no step towards money any more: no proposal, no approval.

And beat creates the settlement records' partition of this period and the next daily
(``reconciliation.settlement_partitions_ensure``, editable in admin), as pooling 0011 does for
ledger entries. Trigger functions pin ``search_path`` (schema first, ``pg_temp`` last)."""

from django.db import migrations

GUARD = r"""
CREATE OR REPLACE FUNCTION reconciliation_discrepancy_settles_once() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
DECLARE
    old_run reconciliation_reconciliationrun%ROWTYPE;
    new_run reconciliation_reconciliationrun%ROWTYPE;
BEGIN
    IF OLD.netted_in_run_id IS NOT NULL AND NEW.netted_in_run_id IS DISTINCT FROM OLD.netted_in_run_id THEN
        SELECT * INTO old_run FROM reconciliation_reconciliationrun WHERE id = OLD.netted_in_run_id;
        SELECT * INTO new_run FROM reconciliation_reconciliationrun WHERE id = NEW.netted_in_run_id;
        IF new_run.id IS NULL OR new_run.period <> old_run.period OR old_run.state <> 'superseded' THEN
            RAISE EXCEPTION 'discrepancy % netted in run % (%): it nets again only in a rerun of that period that supersedes it, not in run %',
                OLD.id, old_run.id, old_run.period, NEW.netted_in_run_id USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF NEW.state <> OLD.state AND NEW.state IN ('resolution_proposed', 'resolved', 'written_off') THEN
        SELECT * INTO new_run FROM reconciliation_reconciliationrun WHERE id = NEW.run_id;
        IF new_run.state = 'superseded' THEN
            RAISE EXCEPTION 'discrepancy % belongs to superseded run %: the period''s latest run no longer finds it', OLD.id, NEW.run_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reconciliation_discrepancy_settles_once
    BEFORE UPDATE OF state, netted_in_run_id ON reconciliation_discrepancy
    FOR EACH ROW EXECUTE FUNCTION reconciliation_discrepancy_settles_once();
"""

TASK = "reconciliation.settlement_partitions_ensure"
NAME = "Reconciliation: settlement partitions of this and next month (daily)"


def guard_forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT quote_ident(current_schema())")
        path = f"{cursor.fetchone()[0]}, pg_temp"
    schema_editor.execute(GUARD.replace("{path}", path), None)


def guard_backwards(apps, schema_editor):
    schema_editor.execute("DROP TRIGGER IF EXISTS reconciliation_discrepancy_settles_once ON reconciliation_discrepancy")
    schema_editor.execute("DROP FUNCTION IF EXISTS reconciliation_discrepancy_settles_once()")


def add_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="20", hour="1", day_of_month="*", month_of_year="*", day_of_week="*", defaults={"timezone": "Asia/Shanghai"}
    )
    PeriodicTask.objects.get_or_create(name=NAME, defaults={"task": TASK, "crontab": crontab, "enabled": True})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0007_model_labels_through_gettext"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(guard_forwards, guard_backwards), migrations.RunPython(add_schedule, remove_schedule)]
