"""The partial index on the items that replace something, back (catalog 0003 made it; 0008 lost it).

0008 turned off the foreign key's own index on ``release_id``; Django finds that index by
introspection as any plain index on exactly that column, and the partial index is one, so it
was dropped with it. Without it the successor map of code validation and mapping checks read the
whole item table (10,000-code validation: 2.5x a bare join instead of 1.7x). It is declared in
the model now, which keeps later field changes from taking it for the foreign key's.
"""

from django.db import migrations, models

INDEX = "catalog_item_has_replaces"


class Migration(migrations.Migration):
    dependencies = [("catalog", "0009_model_labels_through_gettext")]

    operations = [
        migrations.SeparateDatabaseAndState(
            # IF NOT EXISTS: a database that skipped 0008's loss (restored by hand) keeps its copy.
            database_operations=[
                migrations.RunSQL(
                    f"CREATE INDEX IF NOT EXISTS {INDEX} ON catalog_catalogitem (release_id) WHERE replaces <> '[]'::jsonb",
                    f"DROP INDEX IF EXISTS {INDEX}",
                )
            ],
            state_operations=[
                migrations.AddIndex(
                    model_name="catalogitem",
                    index=models.Index(condition=~models.Q(replaces=[]), fields=["release"], name=INDEX),
                )
            ],
        )
    ]
