"""Benefit policies go draft → submitted → approved, and whoever drafted, edited or submitted
one is recorded as its participant; PostgreSQL refuses an approver among them (a trigger on the
approval columns), refuses adding the approver later, and keeps participants append-only (they
go only with their policy: the foreign key cascades in the database). Existing policies are
backfilled from their creator and the authors of their history."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

TRIGGERS = r"""
CREATE OR REPLACE FUNCTION benefit_policy_approver_took_no_part() RETURNS trigger AS $$
BEGIN
    IF NEW.approved_by_id IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.approved_by_id IS DISTINCT FROM OLD.approved_by_id)
       AND (NEW.approved_by_id IN (NEW.created_by_id, NEW.submitted_by_id)
            OR EXISTS (SELECT 1 FROM benefits_policyparticipant p
                       WHERE p.policy_id = NEW.id AND p.user_id = NEW.approved_by_id)) THEN
        RAISE EXCEPTION 'user % took part in benefit policy % and cannot approve it', NEW.approved_by_id, NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER benefit_policy_two_people
    BEFORE INSERT OR UPDATE OF approved_by_id ON benefits_benefitpolicy
    FOR EACH ROW EXECUTE FUNCTION benefit_policy_approver_took_no_part();

CREATE OR REPLACE FUNCTION benefit_policy_participant_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM benefits_benefitpolicy b WHERE b.id = NEW.policy_id AND b.approved_by_id = NEW.user_id) THEN
            RAISE EXCEPTION 'user % approved benefit policy % and cannot take part in it afterwards', NEW.user_id, NEW.policy_id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    -- The only deletion allowed is the cascade of the policy's own deletion (a draft's).
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM benefits_benefitpolicy b WHERE b.id = OLD.policy_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'who took part in benefit policy % is never changed or deleted', OLD.policy_id
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER benefit_policy_participant_append_only
    BEFORE INSERT OR UPDATE OR DELETE ON benefits_policyparticipant
    FOR EACH ROW EXECUTE FUNCTION benefit_policy_participant_guard();
"""

CASCADE = r"""
ALTER TABLE benefits_policyparticipant ADD CONSTRAINT benefits_policyparticipant_policy_cascades
    FOREIGN KEY (policy_id) REFERENCES benefits_benefitpolicy (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
"""

BACKFILL = r"""
INSERT INTO benefits_policyparticipant (policy_id, user_id, role, at)
SELECT id, created_by_id, 'drafted', created_at FROM benefits_benefitpolicy WHERE created_by_id IS NOT NULL
UNION ALL
SELECT id, history_user_id, 'edited', min(history_date) FROM benefits_historicalbenefitpolicy
 WHERE history_user_id IS NOT NULL AND history_type = '~' AND status = 'draft' GROUP BY id, history_user_id
ON CONFLICT DO NOTHING;
"""


def forwards(apps, schema_editor):
    schema_editor.execute(CASCADE, None)
    schema_editor.execute(BACKFILL, None)  # before the triggers: history as it was
    schema_editor.execute(TRIGGERS, None)


def backwards(apps, schema_editor):
    schema_editor.execute("DROP TRIGGER IF EXISTS benefit_policy_participant_append_only ON benefits_policyparticipant")
    schema_editor.execute("DROP TRIGGER IF EXISTS benefit_policy_two_people ON benefits_benefitpolicy")
    schema_editor.execute("DROP FUNCTION IF EXISTS benefit_policy_participant_guard()")
    schema_editor.execute("DROP FUNCTION IF EXISTS benefit_policy_approver_took_no_part()")
    schema_editor.execute("ALTER TABLE benefits_policyparticipant DROP CONSTRAINT IF EXISTS benefits_policyparticipant_policy_cascades")


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0005_history_reasons_as_text"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PolicyParticipant",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "role",
                    models.CharField(choices=[("drafted", "Drafted"), ("edited", "Edited"), ("submitted", "Submitted")], max_length=16),
                ),
                ("at", models.DateTimeField(default=django.utils.timezone.now, help_text="The first time this user took this part.")),
            ],
            options={
                "ordering": ["policy", "at", "id"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="benefitpolicy",
            name="policy_status_valid",
        ),
        migrations.AddField(
            model_name="benefitpolicy",
            name="submitted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="benefitpolicy",
            name="submitted_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="historicalbenefitpolicy",
            name="submitted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="historicalbenefitpolicy",
            name="submitted_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="benefitpolicy",
            name="status",
            field=models.CharField(
                choices=[("draft", "Draft"), ("submitted", "Submitted"), ("approved", "Approved")], default="draft", max_length=16
            ),
        ),
        migrations.AlterField(
            model_name="historicalbenefitpolicy",
            name="status",
            field=models.CharField(
                choices=[("draft", "Draft"), ("submitted", "Submitted"), ("approved", "Approved")], default="draft", max_length=16
            ),
        ),
        migrations.AddConstraint(
            model_name="benefitpolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["draft", "submitted", "approved"])), name="policy_status_valid"
            ),
        ),
        migrations.AddField(
            model_name="policyparticipant",
            name="policy",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="participants",
                to="benefits.benefitpolicy",
            ),
        ),
        migrations.AddField(
            model_name="policyparticipant",
            name="user",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddConstraint(
            model_name="policyparticipant",
            constraint=models.UniqueConstraint(fields=("policy", "user", "role"), name="policy_participant_once_per_part"),
        ),
        migrations.AddConstraint(
            model_name="policyparticipant",
            constraint=models.CheckConstraint(
                condition=models.Q(("role__in", ["drafted", "edited", "submitted"])), name="policy_participant_part_valid"
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
