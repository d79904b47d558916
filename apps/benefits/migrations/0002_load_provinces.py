"""Load the 31 provinces and XPCC from data/provinces.csv (source in data/SOURCE.md)."""

import csv
from pathlib import Path

from django.conf import settings
from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "provinces.csv"


def forwards(apps, schema_editor):
    Province = apps.get_model("benefits", "Province")
    with DATA.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            code = settings.XPCC_PROVINCE_CODE if row["code"] == "XPCC" else row["code"]
            Province.objects.update_or_create(code=code, defaults={"name": row["name"], "name_en": row["name_en"]})


class Migration(migrations.Migration):
    dependencies = [("benefits", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
