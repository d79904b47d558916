"""Provincial pooling (issue 19): advance accounts (预付金), closed accounts, province-level
figures and cross-regional spending, the national adjustment rule, adjustment runs, advance
policies, clearing results, budgets and pooling-model changes; the beat schedule of the monthly
risk adjustment and the daily follow-ups; a trigger that refuses entries on a closed account.

Existing figures rows get their region's province (``province`` is filled before it becomes
NOT NULL; the deferred foreign-key checks of that update are fired at once so the ALTER that
follows does not meet pending trigger events).
"""

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

ADJUSTMENT_TASK = "pooling.adjustment_previous_month"
ADJUSTMENT_NAME = "Pooling: risk adjustment of the previous month (10th of each month)"
DAILY_TASK = "pooling.daily_checks"
DAILY_NAME = "Pooling: advance top-ups and budget alerts (daily)"

CLOSED_ACCOUNT_SQL = r"""
CREATE OR REPLACE FUNCTION pooling_entries_not_on_closed_accounts() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
DECLARE
    closed bigint;
BEGIN
    SELECT a.id INTO closed FROM new_entries e JOIN pooling_fundaccount a ON a.id = e.account_id
     WHERE a.closed_at IS NOT NULL LIMIT 1;
    IF closed IS NOT NULL THEN
        RAISE EXCEPTION 'account % is closed and takes no entries', closed USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER pooling_ledgerentry_not_on_closed_accounts
    AFTER INSERT ON pooling_ledgerentry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION pooling_entries_not_on_closed_accounts();
"""

CLOSED_ACCOUNT_BACKWARDS = r"""
DROP TRIGGER IF EXISTS pooling_ledgerentry_not_on_closed_accounts ON pooling_ledgerentry;
DROP FUNCTION IF EXISTS pooling_entries_not_on_closed_accounts();
"""


def fill_figures_province(apps, schema_editor):
    Figures = apps.get_model("pooling", "RegionPeriodFigures")
    for figures in Figures.objects.select_related("region").filter(province__isnull=True):
        figures.province_id = figures.region.province_id
        figures.save(update_fields=["province"])
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


def closed_account_trigger(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:  # as migration 0005: our schema, pg_temp last
        cursor.execute("SELECT quote_ident(current_schema())")
        path = f"{cursor.fetchone()[0]}, pg_temp"
    schema_editor.execute(CLOSED_ACCOUNT_SQL.replace("{path}", path), None)


def drop_closed_account_trigger(apps, schema_editor):
    schema_editor.execute(CLOSED_ACCOUNT_BACKWARDS, None)


def add_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, hour, day in ((ADJUSTMENT_NAME, ADJUSTMENT_TASK, "3", "10"), (DAILY_NAME, DAILY_TASK, "6", "*")):
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute="0", hour=hour, day_of_month=day, month_of_year="*", day_of_week="*", defaults={"timezone": "Asia/Shanghai"}
        )
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "crontab": crontab, "enabled": True})


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[ADJUSTMENT_NAME, DAILY_NAME]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0007_load_cities"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("core", "0004_analyze_as_owner"),
        ("pooling", "0005_money_invariants"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AdjustmentRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "level",
                    models.CharField(
                        choices=[("provincial", "regions ↔ provincial fund"), ("national", "provinces ↔ national fund")], max_length=16
                    ),
                ),
                ("period", models.CharField(max_length=7)),
                (
                    "state",
                    models.CharField(
                        choices=[("succeeded", "succeeded"), ("superseded", "superseded")], default="succeeded", max_length=16
                    ),
                ),
                (
                    "inputs_fingerprint",
                    models.CharField(help_text="SHA-256 of the rule's parameters and every unit's figures.", max_length=64),
                ),
                ("formula", models.TextField()),
                ("parameters", models.JSONField(default=dict)),
                (
                    "rows",
                    models.JSONField(
                        default=list, help_text="Per unit: inputs, dependency ratio, deficit, weight, contribution, allocation."
                    ),
                ),
                ("contributions_fen", models.BigIntegerField(default=0)),
                ("pot_fen", models.BigIntegerField(default=0)),
                ("allocations_fen", models.BigIntegerField(default=0)),
                ("transfer_ids", models.JSONField(blank=True, default=list)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["-id"],
            },
        ),
        migrations.CreateModel(
            name="AdvanceFundPolicy",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("threshold_fen", models.BigIntegerField(help_text="Top up when the advance falls below this (fen).")),
                ("target_fen", models.BigIntegerField(help_text="A top-up brings the advance back to this (fen).")),
            ],
            options={
                "verbose_name_plural": "advance fund policies",
                "ordering": ["province"],
            },
        ),
        migrations.CreateModel(
            name="ClearingResult",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("period", models.CharField(max_length=7)),
                ("payable_fen", models.BigIntegerField(default=0)),
                ("receivable_fen", models.BigIntegerField(default=0)),
                ("claims", models.BigIntegerField(default=0, help_text="Matched claims with the province as home.")),
                ("source", models.CharField(help_text="Which clearing reported it, e.g. reconciliation run #12.", max_length=100)),
                ("recorded_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["period", "province"],
            },
        ),
        migrations.CreateModel(
            name="HistoricalAdjustmentRun",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                (
                    "level",
                    models.CharField(
                        choices=[("provincial", "regions ↔ provincial fund"), ("national", "provinces ↔ national fund")], max_length=16
                    ),
                ),
                ("period", models.CharField(max_length=7)),
                (
                    "state",
                    models.CharField(
                        choices=[("succeeded", "succeeded"), ("superseded", "superseded")], default="succeeded", max_length=16
                    ),
                ),
                (
                    "inputs_fingerprint",
                    models.CharField(help_text="SHA-256 of the rule's parameters and every unit's figures.", max_length=64),
                ),
                ("formula", models.TextField()),
                ("parameters", models.JSONField(default=dict)),
                (
                    "rows",
                    models.JSONField(
                        default=list, help_text="Per unit: inputs, dependency ratio, deficit, weight, contribution, allocation."
                    ),
                ),
                ("contributions_fen", models.BigIntegerField(default=0)),
                ("pot_fen", models.BigIntegerField(default=0)),
                ("allocations_fen", models.BigIntegerField(default=0)),
                ("transfer_ids", models.JSONField(blank=True, default=list)),
                ("created_at", models.DateTimeField(blank=True, editable=False)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
            ],
            options={
                "verbose_name": "historical adjustment run",
                "verbose_name_plural": "historical adjustment runs",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalAdvanceFundPolicy",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("threshold_fen", models.BigIntegerField(help_text="Top up when the advance falls below this (fen).")),
                ("target_fen", models.BigIntegerField(help_text="A top-up brings the advance back to this (fen).")),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
            ],
            options={
                "verbose_name": "historical advance fund policy",
                "verbose_name_plural": "historical advance fund policies",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalClearingResult",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("period", models.CharField(max_length=7)),
                ("payable_fen", models.BigIntegerField(default=0)),
                ("receivable_fen", models.BigIntegerField(default=0)),
                ("claims", models.BigIntegerField(default=0, help_text="Matched claims with the province as home.")),
                ("source", models.CharField(help_text="Which clearing reported it, e.g. reconciliation run #12.", max_length=100)),
                ("recorded_at", models.DateTimeField(blank=True, editable=False)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
            ],
            options={
                "verbose_name": "historical clearing result",
                "verbose_name_plural": "historical clearing results",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalPoolingBudget",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("year", models.PositiveSmallIntegerField()),
                (
                    "expenditure_fen",
                    models.BigIntegerField(help_text="Budgeted fund expenditure of the year, cross-regional included (fen)."),
                ),
                ("cross_regional_fen", models.BigIntegerField(help_text="Of which expected cross-regional expenditure (fen).")),
                (
                    "alert_ratio",
                    models.DecimalField(decimal_places=4, help_text="Alert when the actual reaches this share, e.g. 0.9000.", max_digits=5),
                ),
                ("alerted_at", models.DateTimeField(blank=True, null=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
            ],
            options={
                "verbose_name": "historical pooling budget",
                "verbose_name_plural": "historical pooling budgets",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalPoolingModelChange",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                (
                    "to_model",
                    models.CharField(
                        choices=[
                            ("adjustment_fund", "调剂金 (provincial adjustment fund)"),
                            ("unified", "统收统支 (unified collection and expenditure)"),
                        ],
                        default="unified",
                        max_length=32,
                    ),
                ),
                (
                    "state",
                    models.CharField(choices=[("pending", "consolidating"), ("completed", "completed")], default="pending", max_length=16),
                ),
                ("reason", models.TextField()),
                ("transfer_ids", models.JSONField(blank=True, default=list)),
                ("created_at", models.DateTimeField(blank=True, editable=False)),
                ("completed_at", models.DateTimeField(blank=True, null=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
            ],
            options={
                "verbose_name": "historical pooling model change",
                "verbose_name_plural": "historical pooling model changes",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="PoolingBudget",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("year", models.PositiveSmallIntegerField()),
                (
                    "expenditure_fen",
                    models.BigIntegerField(help_text="Budgeted fund expenditure of the year, cross-regional included (fen)."),
                ),
                ("cross_regional_fen", models.BigIntegerField(help_text="Of which expected cross-regional expenditure (fen).")),
                (
                    "alert_ratio",
                    models.DecimalField(decimal_places=4, help_text="Alert when the actual reaches this share, e.g. 0.9000.", max_digits=5),
                ),
                ("alerted_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-year", "province", "region"],
            },
        ),
        migrations.CreateModel(
            name="PoolingModelChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "to_model",
                    models.CharField(
                        choices=[
                            ("adjustment_fund", "调剂金 (provincial adjustment fund)"),
                            ("unified", "统收统支 (unified collection and expenditure)"),
                        ],
                        default="unified",
                        max_length=32,
                    ),
                ),
                (
                    "state",
                    models.CharField(choices=[("pending", "consolidating"), ("completed", "completed")], default="pending", max_length=16),
                ),
                ("reason", models.TextField()),
                ("transfer_ids", models.JSONField(blank=True, default=list)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("completed_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-id"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="fundaccount",
            name="fund_account_kind_valid",
        ),
        migrations.RemoveConstraint(
            model_name="fundaccount",
            name="fund_account_scope_matches_kind",
        ),
        migrations.RemoveConstraint(
            model_name="fundaccount",
            name="one_fund_of_a_kind_per_province",
        ),
        migrations.AddField(
            model_name="fundaccount",
            name="closed_at",
            field=models.DateTimeField(blank=True, help_text="Closed accounts take no more entries.", null=True),
        ),
        migrations.AddField(
            model_name="historicalfundaccount",
            name="closed_at",
            field=models.DateTimeField(blank=True, help_text="Closed accounts take no more entries.", null=True),
        ),
        migrations.AddField(
            model_name="historicalregionperiodfigures",
            name="cross_regional_fen",
            field=models.BigIntegerField(default=0, help_text="Part of the expenditure spent outside the region (fen)."),
        ),
        migrations.AddField(
            model_name="historicalregionperiodfigures",
            name="province",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="benefits.province",
            ),
        ),
        migrations.AddField(
            model_name="regionperiodfigures",
            name="cross_regional_fen",
            field=models.BigIntegerField(default=0, help_text="Part of the expenditure spent outside the region (fen)."),
        ),
        migrations.AddField(
            model_name="regionperiodfigures",
            name="province",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="period_figures", to="benefits.province"
            ),
        ),
        migrations.RunPython(fill_figures_province, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="regionperiodfigures",
            name="province",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="period_figures", to="benefits.province"),
        ),
        migrations.AlterField(
            model_name="adjustmentrule",
            name="province",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty: the national rule.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="adjustment_rules",
                to="benefits.province",
            ),
        ),
        migrations.AlterField(
            model_name="fundaccount",
            name="kind",
            field=models.CharField(
                choices=[
                    ("national", "National adjustment fund"),
                    ("provincial", "Provincial fund"),
                    ("regional", "Pooling-region fund"),
                    ("external", "External (fund income and payouts)"),
                    ("advance", "Advance for cross-province clearing (预付金)"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="historicaladjustmentrule",
            name="province",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="Empty: the national rule.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="benefits.province",
            ),
        ),
        migrations.AlterField(
            model_name="historicalfundaccount",
            name="kind",
            field=models.CharField(
                choices=[
                    ("national", "National adjustment fund"),
                    ("provincial", "Provincial fund"),
                    ("regional", "Pooling-region fund"),
                    ("external", "External (fund income and payouts)"),
                    ("advance", "Advance for cross-province clearing (预付金)"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="regionperiodfigures",
            name="region",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="period_figures",
                to="benefits.poolingregion",
            ),
        ),
        migrations.AddConstraint(
            model_name="adjustmentrule",
            constraint=models.UniqueConstraint(
                condition=models.Q(("province__isnull", True)), fields=("effective_from",), name="adjustment_rule_one_national_per_date"
            ),
        ),
        migrations.AddConstraint(
            model_name="fundaccount",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind__in", ["national", "provincial", "regional", "external", "advance"])),
                name="fund_account_kind_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="fundaccount",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "national"), ("province__isnull", True), ("region__isnull", True)),
                    models.Q(("kind__in", ["provincial", "external", "advance"]), ("province__isnull", False), ("region__isnull", True)),
                    models.Q(("kind", "regional"), ("province__isnull", False), ("region__isnull", False)),
                    _connector="OR",
                ),
                name="fund_account_scope_matches_kind",
            ),
        ),
        migrations.AddConstraint(
            model_name="fundaccount",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind__in", ["provincial", "external", "advance"])),
                fields=("province", "kind"),
                name="one_fund_of_a_kind_per_province",
            ),
        ),
        migrations.AddConstraint(
            model_name="regionperiodfigures",
            constraint=models.UniqueConstraint(
                condition=models.Q(("region__isnull", True)), fields=("province", "period"), name="province_period_figures_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="regionperiodfigures",
            constraint=models.CheckConstraint(
                condition=models.Q(("cross_regional_fen__gte", 0), ("cross_regional_fen__lte", models.F("fund_expenditure_fen"))),
                name="region_period_figures_cross_regional_within_expenditure",
            ),
        ),
        migrations.AddConstraint(
            model_name="regionperiodfigures",
            constraint=models.CheckConstraint(
                condition=models.Q(("period__regex", "^[0-9]{4}-(0[1-9]|1[0-2])$")), name="region_period_figures_period_format"
            ),
        ),
        migrations.AddField(
            model_name="adjustmentrun",
            name="job",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="core.job"),
        ),
        migrations.AddField(
            model_name="adjustmentrun",
            name="province",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="adjustment_runs", to="benefits.province"
            ),
        ),
        migrations.AddField(
            model_name="adjustmentrun",
            name="rule",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="runs", to="pooling.adjustmentrule"),
        ),
        migrations.AddField(
            model_name="adjustmentrun",
            name="started_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="advancefundpolicy",
            name="province",
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name="advance_policy", to="benefits.province"),
        ),
        migrations.AddField(
            model_name="advancefundpolicy",
            name="updated_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="clearingresult",
            name="province",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="clearing_results", to="benefits.province"),
        ),
        migrations.AddField(
            model_name="historicaladjustmentrun",
            name="history_user",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="historicaladjustmentrun",
            name="job",
            field=models.ForeignKey(
                blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="core.job"
            ),
        ),
        migrations.AddField(
            model_name="historicaladjustmentrun",
            name="province",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="benefits.province",
            ),
        ),
        migrations.AddField(
            model_name="historicaladjustmentrun",
            name="rule",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="pooling.adjustmentrule",
            ),
        ),
        migrations.AddField(
            model_name="historicaladjustmentrun",
            name="started_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicaladvancefundpolicy",
            name="history_user",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="historicaladvancefundpolicy",
            name="province",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="benefits.province",
            ),
        ),
        migrations.AddField(
            model_name="historicaladvancefundpolicy",
            name="updated_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalclearingresult",
            name="history_user",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="historicalclearingresult",
            name="province",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="benefits.province",
            ),
        ),
        migrations.AddField(
            model_name="historicalpoolingbudget",
            name="history_user",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="historicalpoolingbudget",
            name="province",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="benefits.province",
            ),
        ),
        migrations.AddField(
            model_name="historicalpoolingbudget",
            name="region",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="benefits.poolingregion",
            ),
        ),
        migrations.AddField(
            model_name="historicalpoolingbudget",
            name="updated_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalpoolingmodelchange",
            name="completed_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalpoolingmodelchange",
            name="history_user",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="historicalpoolingmodelchange",
            name="proposed_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalpoolingmodelchange",
            name="province",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="benefits.province",
            ),
        ),
        migrations.AddField(
            model_name="poolingbudget",
            name="province",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="budgets", to="benefits.province"),
        ),
        migrations.AddField(
            model_name="poolingbudget",
            name="region",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="budgets", to="benefits.poolingregion"
            ),
        ),
        migrations.AddField(
            model_name="poolingbudget",
            name="updated_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="poolingmodelchange",
            name="completed_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="poolingmodelchange",
            name="proposed_by",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="poolingmodelchange",
            name="province",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="pooling_model_changes", to="benefits.province"
            ),
        ),
        migrations.AddConstraint(
            model_name="adjustmentrun",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("level", "national"), ("province__isnull", True)),
                    models.Q(("level", "provincial"), ("province__isnull", False)),
                    _connector="OR",
                ),
                name="adjustment_run_scope_matches_level",
            ),
        ),
        migrations.AddConstraint(
            model_name="adjustmentrun",
            constraint=models.CheckConstraint(
                condition=models.Q(("period__regex", "^[0-9]{4}-(0[1-9]|1[0-2])$")), name="adjustment_run_period_format"
            ),
        ),
        migrations.AddConstraint(
            model_name="adjustmentrun",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("allocations_fen__lte", models.F("pot_fen")),
                    ("contributions_fen__gte", 0),
                    ("pot_fen__lte", models.F("contributions_fen")),
                    ("allocations_fen__gte", 0),
                ),
                name="adjustment_run_allocations_within_pot",
            ),
        ),
        migrations.AddConstraint(
            model_name="adjustmentrun",
            constraint=models.UniqueConstraint(
                condition=models.Q(("level", "provincial"), ("state", "succeeded")),
                fields=("province", "period"),
                name="adjustment_run_one_live_per_province_period",
            ),
        ),
        migrations.AddConstraint(
            model_name="adjustmentrun",
            constraint=models.UniqueConstraint(
                condition=models.Q(("level", "national"), ("state", "succeeded")),
                fields=("period",),
                name="adjustment_run_one_live_national_period",
            ),
        ),
        migrations.AddConstraint(
            model_name="advancefundpolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(("target_fen__gte", models.F("threshold_fen")), ("threshold_fen__gte", 0), ("target_fen__gt", 0)),
                name="advance_policy_target_at_least_threshold",
            ),
        ),
        migrations.AddConstraint(
            model_name="clearingresult",
            constraint=models.UniqueConstraint(fields=("province", "period"), name="clearing_result_one_per_province_period"),
        ),
        migrations.AddConstraint(
            model_name="clearingresult",
            constraint=models.CheckConstraint(
                condition=models.Q(("claims__gte", 0), ("payable_fen__gte", 0), ("receivable_fen__gte", 0)),
                name="clearing_result_amounts_not_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="clearingresult",
            constraint=models.CheckConstraint(
                condition=models.Q(("period__regex", "^[0-9]{4}-(0[1-9]|1[0-2])$")), name="clearing_result_period_format"
            ),
        ),
        migrations.AddConstraint(
            model_name="poolingbudget",
            constraint=models.UniqueConstraint(
                condition=models.Q(("region__isnull", True)), fields=("province", "year"), name="pooling_budget_one_per_province_year"
            ),
        ),
        migrations.AddConstraint(
            model_name="poolingbudget",
            constraint=models.UniqueConstraint(
                condition=models.Q(("region__isnull", False)), fields=("region", "year"), name="pooling_budget_one_per_region_year"
            ),
        ),
        migrations.AddConstraint(
            model_name="poolingbudget",
            constraint=models.CheckConstraint(
                condition=models.Q(("cross_regional_fen__gte", 0), ("cross_regional_fen__lte", models.F("expenditure_fen"))),
                name="pooling_budget_cross_regional_within_expenditure",
            ),
        ),
        migrations.AddConstraint(
            model_name="poolingbudget",
            constraint=models.CheckConstraint(
                condition=models.Q(("alert_ratio__gt", 0), ("alert_ratio__lte", 5)), name="pooling_budget_alert_ratio_in_range"
            ),
        ),
        migrations.AddConstraint(
            model_name="poolingbudget",
            constraint=models.CheckConstraint(
                condition=models.Q(("year__gte", 2000), ("year__lte", 2100)), name="pooling_budget_year_in_range"
            ),
        ),
        migrations.AddConstraint(
            model_name="poolingmodelchange",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state", "pending")), fields=("province",), name="pooling_model_change_one_pending"
            ),
        ),
        migrations.AddConstraint(
            model_name="poolingmodelchange",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("completed_by__isnull", True), models.Q(("completed_by", models.F("proposed_by")), _negated=True), _connector="OR"
                ),
                name="pooling_model_change_two_people",
            ),
        ),
        migrations.AddConstraint(
            model_name="poolingmodelchange",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("state", "completed"), _negated=True),
                    models.Q(("completed_at__isnull", False), ("completed_by__isnull", False)),
                    _connector="OR",
                ),
                name="pooling_model_change_completed_has_completer",
            ),
        ),
        migrations.RunPython(closed_account_trigger, drop_closed_account_trigger),
        migrations.RunPython(add_schedules, remove_schedules),
    ]
