"""Items lose their single-column index on ``release_id`` (issue 22): UNIQUE (release, code)
leads with the release and serves every look-up by release, and each bulk load of 500,000 items
maintained one B-tree more than it needed."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_search"),
    ]

    operations = [
        migrations.AlterField(
            model_name="catalogitem",
            name="release",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="items", to="catalog.catalogrelease"
            ),
        ),
    ]
