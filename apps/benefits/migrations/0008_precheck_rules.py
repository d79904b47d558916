"""The pre-check's rules (issue 20): ICD-9-CM-3 reference, disease lists with per-policy terms,
daily doses, provincial service prices and versioned DRG tables.

Besides the tables, PostgreSQL guards them:
- DRG tables: nobody who created, edited or submitted a table approves it (a CHECK over
  ``editor_ids``, which a trigger keeps append-only); a published table, its groups and its
  area rates never change, and groups and rates change only while their table is a draft.
- Disease terms change only while their policy is a draft (the policy's approval covers them).
- Daily doses: an approved dose never changes except to be superseded; none is deleted.
- Service prices of one code in one province never overlap in time (exclusion constraint).
Trigger functions pin ``search_path`` (schema first, ``pg_temp`` last), as catalog 0005 does.
The national disease list is loaded from data/national_diseases.csv (source in data/SOURCE.md).
"""

import csv
from pathlib import Path

import django.contrib.postgres.fields
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

DISEASES = Path(__file__).resolve().parent.parent / "data" / "national_diseases.csv"
DISEASE_SOURCE = "NHSA/MOF 医保办发〔2021〕4号: conditions settled across provinces (data/national_diseases.csv)"

GUARDS = r"""
ALTER TABLE benefits_drgversion ADD CONSTRAINT drg_version_approver_not_an_editor
    CHECK (approved_by_id IS NULL OR approved_by_id <> ALL (editor_ids));

ALTER TABLE benefits_serviceprice ADD CONSTRAINT service_price_no_overlap
    EXCLUDE USING gist (province_id WITH =, code WITH =, daterange(effective_from, effective_to, '[)') WITH &&);

CREATE OR REPLACE FUNCTION benefits_drg_version_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    IF OLD.status = 'published' THEN
        RAISE EXCEPTION 'DRG table % is published and immutable', OLD.label USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    IF NOT (NEW.editor_ids @> OLD.editor_ids) THEN
        RAISE EXCEPTION 'who edited DRG table % is never forgotten', OLD.label USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER drg_version_immutable BEFORE UPDATE OR DELETE ON benefits_drgversion
    FOR EACH ROW EXECUTE FUNCTION benefits_drg_version_guard();

-- Groups and area rates change only while their table is a draft; checked per statement.
CREATE OR REPLACE FUNCTION benefits_drg_rows_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    -- Each branch reads only the transition table its operation has: plpgsql plans a statement
    -- when it first runs it, so the EXISTS must sit inside the IF on TG_OP, not beside it.
    IF TG_OP <> 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM old_rows changed JOIN benefits_drgversion version ON version.id = changed.version_id
                                     WHERE version.status <> 'draft') THEN
            RAISE EXCEPTION '% on % touches a DRG table that is not a draft', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM new_rows changed JOIN benefits_drgversion version ON version.id = changed.version_id
                                     WHERE version.status <> 'draft') THEN
            RAISE EXCEPTION '% on % touches a DRG table that is not a draft', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- A policy's disease terms change only while the policy is a draft.
CREATE OR REPLACE FUNCTION benefits_disease_terms_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM old_rows changed JOIN benefits_benefitpolicy policy ON policy.id = changed.policy_id
                                     WHERE policy.status <> 'draft') THEN
            RAISE EXCEPTION '% on % touches the disease terms of a policy that is not a draft', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM new_rows changed JOIN benefits_benefitpolicy policy ON policy.id = changed.policy_id
                                     WHERE policy.status <> 'draft') THEN
            RAISE EXCEPTION '% on % touches the disease terms of a policy that is not a draft', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION benefits_daily_dose_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    IF OLD.status = 'proposed' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'daily dose % is % and is never deleted', OLD.id, OLD.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.status <> 'approved' OR NEW.status <> 'superseded'
       OR (to_jsonb(NEW) - 'status') IS DISTINCT FROM (to_jsonb(OLD) - 'status') THEN
        RAISE EXCEPTION 'daily dose % is %: it can only be superseded', OLD.id, OLD.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER daily_dose_immutable BEFORE UPDATE OR DELETE ON benefits_dailydose
    FOR EACH ROW EXECUTE FUNCTION benefits_daily_dose_guard();
"""

STATEMENT_TRIGGERS = {
    "benefits_drggroup": "benefits_drg_rows_guard",
    "benefits_drgarearate": "benefits_drg_rows_guard",
    "benefits_policydiseaseterm": "benefits_disease_terms_guard",
}


def pinned_search_path(schema_editor) -> str:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT quote_ident(current_schema())")
        return f"{cursor.fetchone()[0]}, pg_temp"


def guards_forwards(apps, schema_editor):
    schema_editor.execute(GUARDS.replace("{path}", pinned_search_path(schema_editor)), None)
    for table, function in STATEMENT_TRIGGERS.items():
        # Transition tables: one trigger per operation (PostgreSQL allows both tables only on UPDATE).
        for op, refs in (
            ("insert", "NEW TABLE AS new_rows"),
            ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("delete", "OLD TABLE AS old_rows"),
        ):
            schema_editor.execute(
                f"CREATE TRIGGER {table}_{op}_guard AFTER {op.upper()} ON {table} REFERENCING {refs} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )


def guards_backwards(apps, schema_editor):
    for table in STATEMENT_TRIGGERS:
        for op in ("insert", "update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_{op}_guard ON {table}")
    schema_editor.execute("DROP TRIGGER IF EXISTS drg_version_immutable ON benefits_drgversion")
    schema_editor.execute("DROP TRIGGER IF EXISTS daily_dose_immutable ON benefits_dailydose")
    for function in ("benefits_drg_version_guard", "benefits_drg_rows_guard", "benefits_disease_terms_guard", "benefits_daily_dose_guard"):
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}()")
    schema_editor.execute("ALTER TABLE benefits_serviceprice DROP CONSTRAINT IF EXISTS service_price_no_overlap")
    schema_editor.execute("ALTER TABLE benefits_drgversion DROP CONSTRAINT IF EXISTS drg_version_approver_not_an_editor")


def load_national_diseases(apps, schema_editor):
    Disease = apps.get_model("benefits", "Disease")
    with DISEASES.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            Disease.objects.update_or_create(
                province=None,
                code=row["code"],
                defaults={
                    "name": row["name"],
                    "kind": row["kind"],
                    "icd10_prefixes": row["icd10_prefixes"].split(";"),
                    "cross_province": row["cross_province"] == "true",
                    "source": DISEASE_SOURCE,
                },
            )


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0007_load_cities"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ProcedureCode",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.CharField(max_length=32, unique=True)),
                ("name", models.CharField(max_length=255)),
                ("edition", models.CharField(blank=True, default="", max_length=32)),
                ("chapter_range", models.CharField(blank=True, default="", max_length=16)),
                ("chapter", models.CharField(blank=True, default="", max_length=255)),
                ("category_code", models.CharField(blank=True, default="", max_length=16)),
                ("category_name", models.CharField(blank=True, default="", max_length=255)),
                ("subcategory_code", models.CharField(blank=True, default="", max_length=16)),
                ("subcategory_name", models.CharField(blank=True, default="", max_length=255)),
                ("detail_code", models.CharField(blank=True, default="", max_length=16)),
                ("detail_name", models.CharField(blank=True, default="", max_length=255)),
            ],
            options={
                "ordering": ["code"],
            },
        ),
        migrations.CreateModel(
            name="Disease",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.CharField(max_length=32)),
                ("name", models.CharField(max_length=255)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("chronic_special", "chronic or special outpatient disease (门诊慢特病)"),
                            ("critical", "critical condition (differentiated payment)"),
                        ],
                        default="chronic_special",
                        max_length=24,
                    ),
                ),
                (
                    "icd10_prefixes",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(max_length=16), help_text="ICD-10 code prefixes, e.g. I10, E11, C34.1.", size=None
                    ),
                ),
                (
                    "cross_province",
                    models.BooleanField(default=False, help_text="Settled across provinces nationally (the national five)."),
                ),
                ("source", models.TextField(blank=True, default="")),
                (
                    "province",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="diseases", to="benefits.province"
                    ),
                ),
            ],
            options={
                "ordering": ["province__code", "code"],
            },
        ),
        migrations.CreateModel(
            name="DrgVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("label", models.CharField(max_length=32, unique=True)),
                ("effective_from", models.DateField()),
                (
                    "status",
                    models.CharField(
                        choices=[("draft", "Draft"), ("in_review", "In Review"), ("approved", "Approved"), ("published", "Published")],
                        default="draft",
                        max_length=16,
                    ),
                ),
                ("note", models.TextField(blank=True, default="")),
                (
                    "editor_ids",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.BigIntegerField(),
                        blank=True,
                        default=list,
                        help_text="Everyone who created, edited or submitted it.",
                        size=None,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("submitted_at", models.DateTimeField(blank=True, null=True)),
                ("approved_at", models.DateTimeField(blank=True, null=True)),
                ("published_at", models.DateTimeField(blank=True, null=True)),
                ("rejection_reason", models.TextField(blank=True, default="")),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "based_on",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="benefits.drgversion"
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL),
                ),
                (
                    "published_by",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "submitted_by",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "verbose_name": "DRG table",
                "ordering": ["-effective_from", "-id"],
            },
        ),
        migrations.CreateModel(
            name="DrgGroup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.CharField(max_length=16)),
                ("name", models.CharField(max_length=255)),
                ("weight", models.DecimalField(decimal_places=4, max_digits=8)),
                (
                    "version",
                    models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="groups", to="benefits.drgversion"),
                ),
            ],
            options={
                "ordering": ["version", "code"],
            },
        ),
        migrations.CreateModel(
            name="DrgAreaRate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("area_code", models.CharField(help_text="GB/T 2260 city-level code of the pooling area (ends 00).", max_length=6)),
                ("base_rate_fen", models.BigIntegerField()),
                ("out_of_town_from", models.DateField(help_text="Out-of-town inpatient claims are paid by DRG from this day on.")),
                (
                    "version",
                    models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="area_rates", to="benefits.drgversion"),
                ),
            ],
            options={
                "ordering": ["version", "area_code"],
            },
        ),
        migrations.CreateModel(
            name="HistoricalDailyDose",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("code", models.CharField(max_length=32)),
                ("units_per_day", models.DecimalField(decimal_places=4, max_digits=12)),
                ("note", models.TextField(blank=True, default="")),
                (
                    "status",
                    models.CharField(
                        choices=[("proposed", "Proposed"), ("approved", "Approved"), ("superseded", "Superseded")],
                        default="proposed",
                        max_length=16,
                    ),
                ),
                ("proposed_at", models.DateTimeField(blank=True, editable=False)),
                ("approved_at", models.DateTimeField(blank=True, null=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "proposed_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical daily dose",
                "verbose_name_plural": "historical daily doses",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalDisease",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("code", models.CharField(max_length=32)),
                ("name", models.CharField(max_length=255)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("chronic_special", "chronic or special outpatient disease (门诊慢特病)"),
                            ("critical", "critical condition (differentiated payment)"),
                        ],
                        default="chronic_special",
                        max_length=24,
                    ),
                ),
                (
                    "icd10_prefixes",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(max_length=16), help_text="ICD-10 code prefixes, e.g. I10, E11, C34.1.", size=None
                    ),
                ),
                (
                    "cross_province",
                    models.BooleanField(default=False, help_text="Settled across provinces nationally (the national five)."),
                ),
                ("source", models.TextField(blank=True, default="")),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "province",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="benefits.province",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical disease",
                "verbose_name_plural": "historical diseases",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalDrgAreaRate",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("area_code", models.CharField(help_text="GB/T 2260 city-level code of the pooling area (ends 00).", max_length=6)),
                ("base_rate_fen", models.BigIntegerField()),
                ("out_of_town_from", models.DateField(help_text="Out-of-town inpatient claims are paid by DRG from this day on.")),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="benefits.drgversion",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical drg area rate",
                "verbose_name_plural": "historical drg area rates",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalDrgGroup",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("code", models.CharField(max_length=16)),
                ("name", models.CharField(max_length=255)),
                ("weight", models.DecimalField(decimal_places=4, max_digits=8)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="benefits.drgversion",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical drg group",
                "verbose_name_plural": "historical drg groups",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalDrgVersion",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("label", models.CharField(db_index=True, max_length=32)),
                ("effective_from", models.DateField()),
                (
                    "status",
                    models.CharField(
                        choices=[("draft", "Draft"), ("in_review", "In Review"), ("approved", "Approved"), ("published", "Published")],
                        default="draft",
                        max_length=16,
                    ),
                ),
                ("note", models.TextField(blank=True, default="")),
                (
                    "editor_ids",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.BigIntegerField(),
                        blank=True,
                        default=list,
                        help_text="Everyone who created, edited or submitted it.",
                        size=None,
                    ),
                ),
                ("created_at", models.DateTimeField(blank=True, editable=False)),
                ("submitted_at", models.DateTimeField(blank=True, null=True)),
                ("approved_at", models.DateTimeField(blank=True, null=True)),
                ("published_at", models.DateTimeField(blank=True, null=True)),
                ("rejection_reason", models.TextField(blank=True, default="")),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "based_on",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="benefits.drgversion",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "published_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "submitted_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical DRG table",
                "verbose_name_plural": "historical DRG tables",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalPolicyDiseaseTerm",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("deductible_fen", models.BigIntegerField(blank=True, null=True)),
                (
                    "ratio",
                    models.DecimalField(
                        blank=True,
                        decimal_places=4,
                        help_text="Fund share for 甲 and 乙 items (after the 乙 self-pay share).",
                        max_digits=5,
                        null=True,
                    ),
                ),
                ("annual_cap_fen", models.BigIntegerField(blank=True, null=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                (
                    "disease",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="benefits.disease",
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "policy",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="benefits.benefitpolicy",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical policy disease term",
                "verbose_name_plural": "historical policy disease terms",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalServicePrice",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("code", models.CharField(max_length=32)),
                ("price_fen", models.BigIntegerField()),
                ("effective_from", models.DateField()),
                ("effective_to", models.DateField(blank=True, null=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "province",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="benefits.province",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical service price",
                "verbose_name_plural": "historical service prices",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="PolicyDiseaseTerm",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("deductible_fen", models.BigIntegerField(blank=True, null=True)),
                (
                    "ratio",
                    models.DecimalField(
                        blank=True,
                        decimal_places=4,
                        help_text="Fund share for 甲 and 乙 items (after the 乙 self-pay share).",
                        max_digits=5,
                        null=True,
                    ),
                ),
                ("annual_cap_fen", models.BigIntegerField(blank=True, null=True)),
                ("disease", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="benefits.disease")),
                (
                    "policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="disease_terms", to="benefits.benefitpolicy"
                    ),
                ),
            ],
            options={
                "ordering": ["policy", "disease__code"],
            },
        ),
        migrations.CreateModel(
            name="ServicePrice",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.CharField(max_length=32)),
                ("price_fen", models.BigIntegerField()),
                ("effective_from", models.DateField()),
                ("effective_to", models.DateField(blank=True, null=True)),
                (
                    "province",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="service_prices", to="benefits.province"),
                ),
            ],
            options={
                "ordering": ["province__code", "code", "-effective_from"],
            },
        ),
        migrations.CreateModel(
            name="DailyDose",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.CharField(max_length=32)),
                ("units_per_day", models.DecimalField(decimal_places=4, max_digits=12)),
                ("note", models.TextField(blank=True, default="")),
                (
                    "status",
                    models.CharField(
                        choices=[("proposed", "Proposed"), ("approved", "Approved"), ("superseded", "Superseded")],
                        default="proposed",
                        max_length=16,
                    ),
                ),
                ("proposed_at", models.DateTimeField(auto_now_add=True)),
                ("approved_at", models.DateTimeField(blank=True, null=True)),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "proposed_by",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL),
                ),
            ],
            options={
                "ordering": ["code", "-id"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status", "approved")), fields=("code",), name="daily_dose_one_approved_per_code"
                    ),
                    models.CheckConstraint(condition=models.Q(("units_per_day__gt", 0)), name="daily_dose_positive"),
                    models.CheckConstraint(
                        condition=models.Q(("status__in", ["proposed", "approved", "superseded"])), name="daily_dose_status_valid"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("approved_by__isnull", True),
                            models.Q(("approved_by", models.F("proposed_by")), _negated=True),
                            _connector="OR",
                        ),
                        name="daily_dose_two_people",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("status", "proposed"), ("approved_by__isnull", False), _connector="OR"),
                        name="daily_dose_approved_has_approver",
                    ),
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="disease",
            constraint=models.UniqueConstraint(
                condition=models.Q(("province__isnull", True)), fields=("code",), name="disease_national_code_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="disease",
            constraint=models.UniqueConstraint(fields=("province", "code"), name="disease_code_unique_per_province"),
        ),
        migrations.AddConstraint(
            model_name="disease",
            constraint=models.CheckConstraint(condition=models.Q(("icd10_prefixes__len__gt", 0)), name="disease_has_prefixes"),
        ),
        migrations.AddConstraint(
            model_name="disease",
            constraint=models.CheckConstraint(condition=models.Q(("kind__in", ["chronic_special", "critical"])), name="disease_kind_valid"),
        ),
        migrations.AddConstraint(
            model_name="drgversion",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["draft", "in_review", "approved", "published"])), name="drg_version_status_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="drgversion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("approved_by__isnull", True),
                    models.Q(
                        models.Q(("approved_by", models.F("created_by")), _negated=True),
                        models.Q(
                            ("submitted_by__isnull", True),
                            models.Q(("approved_by", models.F("submitted_by")), _negated=True),
                            _connector="OR",
                        ),
                    ),
                    _connector="OR",
                ),
                name="drg_version_approver_took_no_part",
            ),
        ),
        migrations.AddConstraint(
            model_name="drgversion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "published"), _negated=True),
                    models.Q(("published_at__isnull", False), ("approved_by__isnull", False)),
                    _connector="OR",
                ),
                name="drg_version_published_is_complete",
            ),
        ),
        migrations.AddConstraint(
            model_name="drgversion",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "published")), fields=("effective_from",), name="one_published_drg_per_date"
            ),
        ),
        migrations.AddConstraint(
            model_name="drggroup",
            constraint=models.UniqueConstraint(fields=("version", "code"), name="drg_group_code_unique_per_version"),
        ),
        migrations.AddConstraint(
            model_name="drggroup",
            constraint=models.CheckConstraint(condition=models.Q(("weight__gt", 0)), name="drg_group_weight_positive"),
        ),
        migrations.AddConstraint(
            model_name="drgarearate",
            constraint=models.UniqueConstraint(fields=("version", "area_code"), name="drg_area_rate_unique_per_version"),
        ),
        migrations.AddConstraint(
            model_name="drgarearate",
            constraint=models.CheckConstraint(condition=models.Q(("base_rate_fen__gt", 0)), name="drg_area_rate_positive"),
        ),
        migrations.AddConstraint(
            model_name="drgarearate",
            constraint=models.CheckConstraint(condition=models.Q(("area_code__regex", "^[0-9]{4}00$")), name="drg_area_code_format"),
        ),
        migrations.AddConstraint(
            model_name="policydiseaseterm",
            constraint=models.UniqueConstraint(fields=("policy", "disease"), name="policy_disease_term_unique"),
        ),
        migrations.AddConstraint(
            model_name="policydiseaseterm",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("deductible_fen__isnull", True), ("deductible_fen__gte", 0), _connector="OR"),
                    models.Q(("annual_cap_fen__isnull", True), ("annual_cap_fen__gte", 0), _connector="OR"),
                ),
                name="policy_disease_term_money_not_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="policydiseaseterm",
            constraint=models.CheckConstraint(
                condition=models.Q(("ratio__isnull", True), models.Q(("ratio__gte", 0), ("ratio__lte", 1)), _connector="OR"),
                name="policy_disease_term_ratio_range",
            ),
        ),
        migrations.AddIndex(
            model_name="serviceprice",
            index=models.Index(fields=["province", "code", "effective_from"], name="service_price_lookup_idx"),
        ),
        migrations.AddConstraint(
            model_name="serviceprice",
            constraint=models.CheckConstraint(condition=models.Q(("price_fen__gte", 0)), name="service_price_not_negative"),
        ),
        migrations.AddConstraint(
            model_name="serviceprice",
            constraint=models.CheckConstraint(
                condition=models.Q(("effective_to__isnull", True), ("effective_to__gt", models.F("effective_from")), _connector="OR"),
                name="service_price_range_not_empty",
            ),
        ),
        migrations.AlterModelOptions(
            name="dailydose",
            options={"ordering": ["code", "-id"], "verbose_name": "daily dose", "verbose_name_plural": "daily doses"},
        ),
        migrations.AlterModelOptions(
            name="disease",
            options={"ordering": ["province__code", "code"], "verbose_name": "listed disease", "verbose_name_plural": "listed diseases"},
        ),
        migrations.AlterModelOptions(
            name="drgarearate",
            options={"ordering": ["version", "area_code"], "verbose_name": "DRG area rate", "verbose_name_plural": "DRG area rates"},
        ),
        migrations.AlterModelOptions(
            name="drggroup",
            options={"ordering": ["version", "code"], "verbose_name": "DRG group", "verbose_name_plural": "DRG groups"},
        ),
        migrations.AlterModelOptions(
            name="drgversion",
            options={"ordering": ["-effective_from", "-id"], "verbose_name": "DRG table", "verbose_name_plural": "DRG tables"},
        ),
        migrations.AlterModelOptions(
            name="historicaldisease",
            options={
                "get_latest_by": ("history_date", "history_id"),
                "ordering": ("-history_date", "-history_id"),
                "verbose_name": "historical listed disease",
                "verbose_name_plural": "historical listed diseases",
            },
        ),
        migrations.AlterModelOptions(
            name="historicaldrgarearate",
            options={
                "get_latest_by": ("history_date", "history_id"),
                "ordering": ("-history_date", "-history_id"),
                "verbose_name": "historical DRG area rate",
                "verbose_name_plural": "historical DRG area rates",
            },
        ),
        migrations.AlterModelOptions(
            name="historicaldrggroup",
            options={
                "get_latest_by": ("history_date", "history_id"),
                "ordering": ("-history_date", "-history_id"),
                "verbose_name": "historical DRG group",
                "verbose_name_plural": "historical DRG groups",
            },
        ),
        migrations.AlterModelOptions(
            name="policydiseaseterm",
            options={
                "ordering": ["policy", "disease__code"],
                "verbose_name": "policy disease term",
                "verbose_name_plural": "policy disease terms",
            },
        ),
        migrations.AlterModelOptions(
            name="procedurecode",
            options={
                "ordering": ["code"],
                "verbose_name": "ICD-9-CM-3 procedure code",
                "verbose_name_plural": "ICD-9-CM-3 procedure codes",
            },
        ),
        migrations.AlterModelOptions(
            name="serviceprice",
            options={
                "ordering": ["province__code", "code", "-effective_from"],
                "verbose_name": "service price",
                "verbose_name_plural": "service prices",
            },
        ),
        migrations.RunPython(guards_forwards, guards_backwards),
        migrations.RunPython(load_national_diseases, migrations.RunPython.noop),
    ]
