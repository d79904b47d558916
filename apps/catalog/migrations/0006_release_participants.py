"""Who took part in a release (created, edited, imported into, submitted it), and the two-person
rule in PostgreSQL: an approver who took part is refused by a trigger on the approval columns;
the approver cannot be added as a participant afterwards; participants are append-only and go
only with their release (the foreign key cascades in the database).

Existing releases are backfilled from their creator, submitter and the item history's authors."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

TRIGGERS = r"""
CREATE OR REPLACE FUNCTION catalog_release_approver_took_no_part() RETURNS trigger AS $$
BEGIN
    IF NEW.approved_by_id IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.approved_by_id IS DISTINCT FROM OLD.approved_by_id)
       AND (NEW.approved_by_id IN (NEW.created_by_id, NEW.submitted_by_id)
            OR EXISTS (SELECT 1 FROM catalog_releaseparticipant p
                       WHERE p.release_id = NEW.id AND p.user_id = NEW.approved_by_id)) THEN
        RAISE EXCEPTION 'user % took part in release % and cannot approve it', NEW.approved_by_id, NEW.label
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER catalog_release_two_people
    BEFORE INSERT OR UPDATE OF approved_by_id ON catalog_catalogrelease
    FOR EACH ROW EXECUTE FUNCTION catalog_release_approver_took_no_part();

CREATE OR REPLACE FUNCTION catalog_release_participant_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM catalog_catalogrelease r WHERE r.id = NEW.release_id AND r.approved_by_id = NEW.user_id) THEN
            RAISE EXCEPTION 'user % approved release % and cannot take part in it afterwards', NEW.user_id, NEW.release_id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    -- The only deletion allowed is the cascade of the release's own deletion (a draft's).
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM catalog_catalogrelease r WHERE r.id = OLD.release_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'who took part in release % is never changed or deleted', OLD.release_id
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER catalog_release_participant_append_only
    BEFORE INSERT OR UPDATE OR DELETE ON catalog_releaseparticipant
    FOR EACH ROW EXECUTE FUNCTION catalog_release_participant_guard();
"""

CASCADE = r"""
ALTER TABLE catalog_releaseparticipant ADD CONSTRAINT catalog_releaseparticipant_release_cascades
    FOREIGN KEY (release_id) REFERENCES catalog_catalogrelease (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
"""

BACKFILL = r"""
INSERT INTO catalog_releaseparticipant (release_id, user_id, role, at)
SELECT id, created_by_id, 'created', created_at FROM catalog_catalogrelease WHERE created_by_id IS NOT NULL
UNION ALL
SELECT id, submitted_by_id, 'submitted', coalesce(submitted_at, created_at) FROM catalog_catalogrelease WHERE submitted_by_id IS NOT NULL
UNION ALL
SELECT release_id, history_user_id, 'edited', min(history_date) FROM catalog_historicalcatalogitem
 WHERE history_user_id IS NOT NULL AND release_id IS NOT NULL GROUP BY release_id, history_user_id
ON CONFLICT DO NOTHING;
"""


def forwards(apps, schema_editor):
    schema_editor.execute(CASCADE, None)
    # Before the triggers: history is recorded as it was, even where an approval predates this rule.
    schema_editor.execute(BACKFILL, None)
    schema_editor.execute(TRIGGERS, None)


def backwards(apps, schema_editor):
    schema_editor.execute("DROP TRIGGER IF EXISTS catalog_release_participant_append_only ON catalog_releaseparticipant")
    schema_editor.execute("DROP TRIGGER IF EXISTS catalog_release_two_people ON catalog_catalogrelease")
    schema_editor.execute("DROP FUNCTION IF EXISTS catalog_release_participant_guard()")
    schema_editor.execute("DROP FUNCTION IF EXISTS catalog_release_approver_took_no_part()")
    schema_editor.execute("ALTER TABLE catalog_releaseparticipant DROP CONSTRAINT IF EXISTS catalog_releaseparticipant_release_cascades")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_moving_rows_into_published_releases"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ReleaseParticipant",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "role",
                    models.CharField(
                        choices=[("created", "Created"), ("edited", "Edited"), ("imported", "Imported"), ("submitted", "Submitted")],
                        max_length=16,
                    ),
                ),
                ("at", models.DateTimeField(default=django.utils.timezone.now, help_text="The first time this user took this part.")),
                (
                    "release",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        db_constraint=False,
                        related_name="participants",
                        to="catalog.catalogrelease",
                    ),
                ),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["release", "at", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("release", "user", "role"), name="release_participant_once_per_part"),
                    models.CheckConstraint(
                        condition=models.Q(("role__in", ["created", "edited", "imported", "submitted"])),
                        name="release_participant_part_valid",
                    ),
                ],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
