"""Search data (apps.catalog.search): the pg_trgm extension, the dictionary of texts with trigram
indexes, one narrow row per item of a published release and per-release term counts; triggers
keep those rows to published releases and, like the release's own items, never updated or
deleted.
Releases published before this migration are searched through the fallback join until
``manage.py catalog_search_index`` indexes them.
"""

import django.contrib.postgres.indexes
import django.db.models.deletion
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

TABLES = ("catalog_itemsearch", "catalog_searchtermuse")
GUARDS = [
    f"CREATE TRIGGER {table}_immutable_{op.lower()} AFTER {op} ON {table} "
    "REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog_rows_of_published_guard();"
    for table in TABLES
    for op in ("UPDATE", "DELETE")
]
UNGUARDS = [f"DROP TRIGGER IF EXISTS {table}_immutable_{op} ON {table};" for table in TABLES for op in ("update", "delete")]

# Instead of a foreign key checked row by row (seconds for a 500,000-item publish): once per
# INSERT statement, every row must belong to a release that exists and is published.
PUBLISHED_ONLY = [
    r"""
CREATE OR REPLACE FUNCTION catalog_search_rows_guard() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT release_id FROM new_rows) n
               LEFT JOIN catalog_catalogrelease r ON r.id = n.release_id
               WHERE r.id IS NULL OR r.status <> 'published') THEN
        RAISE EXCEPTION 'rows of % belong to published catalog releases only', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
""",
    *(
        f"CREATE TRIGGER {table}_published_only AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION catalog_search_rows_guard();"
        for table in TABLES
    ),
]
UNPUBLISHED_ONLY = [
    *(f"DROP TRIGGER IF EXISTS {table}_published_only ON {table};" for table in TABLES),
    "DROP FUNCTION IF EXISTS catalog_search_rows_guard();",
]


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0006_release_participants"),
    ]

    operations = [
        TrigramExtension(),
        migrations.CreateModel(
            name="SearchTerm",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.TextField(help_text="The text exactly as items carry it (NFC).", unique=True)),
                ("folded", models.TextField(help_text="lower(normalize(text, NFKC)): what a query is matched against.")),
                ("initials", models.TextField(blank=True, default="", help_text="Pinyin initials, lower case (阿莫西林 → amxl).")),
            ],
            options={
                "indexes": [
                    django.contrib.postgres.indexes.GinIndex(
                        fields=["folded"], name="catalog_term_folded_trgm", opclasses=["gin_trgm_ops"]
                    ),
                    django.contrib.postgres.indexes.GinIndex(
                        fields=["initials"], name="catalog_term_initials_trgm", opclasses=["gin_trgm_ops"]
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="SearchTermUse",
            fields=[
                ("pk", models.CompositePrimaryKey("release", "term_id", blank=True, editable=False, primary_key=True, serialize=False)),
                ("term_id", models.BigIntegerField()),
                ("names", models.PositiveIntegerField(default=0)),
                ("generics", models.PositiveIntegerField(default=0)),
                ("makers", models.PositiveIntegerField(default=0)),
                (
                    "release",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="catalog.catalogrelease",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ItemSearch",
            fields=[
                ("pk", models.CompositePrimaryKey("release", "code", blank=True, editable=False, primary_key=True, serialize=False)),
                ("code", models.CharField(db_collation="C", max_length=32)),
                ("kind", models.CharField(max_length=16)),
                ("category", models.CharField(max_length=2)),
                ("name_term", models.BigIntegerField(null=True)),
                ("generic_term", models.BigIntegerField(null=True)),
                ("maker_term", models.BigIntegerField(null=True)),
                (
                    "release",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="catalog.catalogrelease",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["release", "name_term", "code"], name="catalog_itemsearch_name_idx"),
                    models.Index(
                        condition=models.Q(("generic_term__isnull", False)),
                        fields=["release", "generic_term", "code"],
                        name="catalog_itemsearch_generic_idx",
                    ),
                    models.Index(fields=["release", "maker_term", "code"], name="catalog_itemsearch_maker_idx"),
                ],
            },
        ),
        migrations.RunSQL(GUARDS, UNGUARDS),
        migrations.RunSQL(PUBLISHED_ONLY, UNPUBLISHED_ONLY),
    ]
