"""A stored, generated content hash per item.

The diff joins two releases on (code, content_hash) — narrow rows — and reads whole rows
only for codes whose hash differs, so comparing two 500,000-item releases costs about what a
bare join of their codes costs. The column is invisible to Django (never written by it).
"""

from django.db import migrations

FIELDS_TEXT = [
    "kind",
    "name",
    "generic_name",
    "dosage_form",
    "specification",
    "manufacturer",
    "unit",
    "pricing_unit",
    "category",
    "restriction_text",
    "restriction_indication",
    "restriction_hospital_level",
    "category_path",
]
FIELDS_NULLABLE = ["restriction_max_days", "self_pay_ratio", "payment_standard_fen"]


def _expression() -> str:
    parts = [f"{f}::text" for f in FIELDS_TEXT]
    parts += [f"coalesce({f}::text, E'\\N')" for f in FIELDS_NULLABLE]
    parts.append("replaces::text")
    return "md5(" + " || E'\\x1f' || ".join(parts) + ")::uuid"


FORWARDS = [
    f"ALTER TABLE catalog_catalogitem ADD COLUMN content_hash uuid GENERATED ALWAYS AS ({_expression()}) STORED",
    # Successor look-ups scan only the few items that replace something.
    "CREATE INDEX catalog_item_has_replaces ON catalog_catalogitem (release_id) WHERE replaces <> '[]'::jsonb",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS catalog_item_has_replaces",
    "ALTER TABLE catalog_catalogitem DROP COLUMN IF EXISTS content_hash",
]


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_published_releases_are_immutable")]
    operations = [migrations.RunSQL(FORWARDS, BACKWARDS)]
