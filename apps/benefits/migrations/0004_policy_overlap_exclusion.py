"""PostgreSQL guards for benefit policies.

- No two approved policies of the same province × scheme × setting × hospital level overlap
  in time: an exclusion constraint over ``daterange(effective_from, effective_to, '[)')``
  (needs btree_gist for the ``=`` parts). Drafts are free to overlap while edited.
- An approved policy never changes, except that its open end may be closed (``effective_to``)
  when its successor is approved; approved policies are never deleted.
"""

from django.db import migrations

EXCLUSION = """
ALTER TABLE benefits_benefitpolicy ADD CONSTRAINT benefit_policy_no_overlap
    EXCLUDE USING gist (
        province_id WITH =, scheme WITH =, setting WITH =, hospital_level WITH =,
        daterange(effective_from, effective_to, '[)') WITH &&
    ) WHERE (status = 'approved')
"""

GUARD = r"""
CREATE OR REPLACE FUNCTION benefit_policy_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.status <> 'approved' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'benefit policy % is approved and cannot be deleted', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (to_jsonb(NEW) - 'effective_to') IS DISTINCT FROM (to_jsonb(OLD) - 'effective_to')
       OR (OLD.effective_to IS NOT NULL AND NEW.effective_to IS DISTINCT FROM OLD.effective_to)
       OR NEW.effective_to <= NEW.effective_from THEN
        RAISE EXCEPTION 'benefit policy % is approved: only an open end may be closed', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER benefit_policy_immutable
    BEFORE UPDATE OR DELETE ON benefits_benefitpolicy
    FOR EACH ROW EXECUTE FUNCTION benefit_policy_guard();
"""


FORWARDS = ["CREATE EXTENSION IF NOT EXISTS btree_gist", EXCLUSION, GUARD]
BACKWARDS = [
    "DROP TRIGGER IF EXISTS benefit_policy_immutable ON benefits_benefitpolicy",
    "DROP FUNCTION IF EXISTS benefit_policy_guard()",
    "ALTER TABLE benefits_benefitpolicy DROP CONSTRAINT IF EXISTS benefit_policy_no_overlap",
]


class Migration(migrations.Migration):
    dependencies = [("benefits", "0003_policies_local_items_icd10")]
    operations = [migrations.RunSQL(FORWARDS, BACKWARDS)]
