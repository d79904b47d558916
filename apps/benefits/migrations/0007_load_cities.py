"""Load the GB/T 2260 prefecture-level divisions and province-managed county-level units as
pooling regions from data/cities.csv (source and licence in data/SOURCE.md).

A region that exists already (same code) keeps its row and gets the file's name and province
only where they differ, with a history row saying so; new regions get a '+' history row naming
the file, so every region's history starts with where it came from. Fund accounts for the
regions of adjustment-fund provinces are opened by pooling's post_migrate hook
(``accounts_ensure``), not here: this app does not know about accounts.
"""

import csv
from pathlib import Path

from django.conf import settings
from django.db import migrations
from django.utils import timezone

DATA = Path(__file__).resolve().parent.parent / "data" / "cities.csv"
REASON = "loaded from data/cities.csv (GB/T 2260 via modood/Administrative-divisions-of-China)"


def forwards(apps, schema_editor):
    Province = apps.get_model("benefits", "Province")
    PoolingRegion = apps.get_model("benefits", "PoolingRegion")
    Historical = apps.get_model("benefits", "HistoricalPoolingRegion")
    provinces = {p.code: p for p in Province.objects.all()}
    existing = {r.code: r for r in PoolingRegion.objects.all()}
    now = timezone.now()
    history = []
    with DATA.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            code = settings.XPCC_PROVINCE_CODE if row["province"] == "XPCC" else row["province"]
            province = provinces.get(code)
            if province is None:  # a province the provinces migration did not load: nothing to attach to
                continue
            region = existing.get(row["code"])
            if region is None:
                region = PoolingRegion.objects.create(code=row["code"], name=row["name"], province=province)
                kind = "+"
            elif (region.name, region.province_id) != (row["name"], province.pk):
                region.name, region.province = row["name"], province
                region.save(update_fields=["name", "province"])
                kind = "~"
            else:
                continue
            history.append(
                Historical(
                    id=region.pk,
                    code=region.code,
                    name=region.name,
                    province_id=province.pk,
                    history_date=now,
                    history_type=kind,
                    history_change_reason=REASON,
                )
            )
    Historical.objects.bulk_create(history)


class Migration(migrations.Migration):
    dependencies = [("benefits", "0006_policy_submit_and_participants")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
