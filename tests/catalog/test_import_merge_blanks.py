"""`mode=merge`: a blank cell keeps the draft's value, in every format (one implementation in
importers/sql.py); `mode=replace`: the draft becomes the file, blanks included."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from apps.catalog.importers.services import release_import
from apps.catalog.models import CatalogItem
from tests.factories import draft_release

pytestmark = pytest.mark.django_db

DRUG = "XA02BCA211A001010101445"
CONSUMABLE = "C0101010010100104744"
NEW_DRUG = "XA10BAE047A010010100483"
NEW_CONSUMABLE = "C0101010010100104745"
RESTRICTION = "限胃镜确诊的消化性溃疡"

CURRENT = {
    DRUG: {
        "code": DRUG,
        "name": "奥美拉唑肠溶胶囊",
        "generic_name": "奥美拉唑",
        "specification": "20mg",
        "manufacturer": "常州四药制药有限公司",
        "category": "02",
        "restriction_text": RESTRICTION,
        "restriction_max_days": 14,
        "self_pay_ratio": "0.1",
    },
    CONSUMABLE: {
        "code": CONSUMABLE,
        "name": "一次性使用无菌注射器",
        "generic_name": "注射器",
        "specification": "5ml",
        "manufacturer": "山东威高集团医用高分子制品股份有限公司",
        "category": "01",
        "restriction_text": "限门诊使用",
    },
}


@pytest.fixture
def draft(catalog_admin: Any) -> Any:
    return draft_release(label="2026.09", effective_from=dt.date(2026, 9, 1), user=catalog_admin, items=CURRENT.values())


def _canonical_csv(rows: list[dict[str, str]]) -> bytes:
    header = ["code", "name", "specification", "category", "restriction_text", "restriction_max_days", "self_pay_ratio"]
    lines = [",".join(header), *(",".join(row.get(c, "") for c in header) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


def _xlsx(rows: list[dict[str, str]]) -> bytes:
    from openpyxl import Workbook

    header = ["code", "name", "specification", "category", "restriction_text", "restriction_max_days", "self_pay_ratio"]
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(c) or None for c in header])  # a blank cell is an empty cell
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _nrdl_json(rows: list[dict[str, str]]) -> bytes:
    # A blank is an empty string here; a missing key is a blank too (see test below).
    medicines = [dict(row) for row in rows]
    return json.dumps({"categories": [{"code": "XA", "children": [{"code": "XA", "medicines": medicines}]}]}, ensure_ascii=False).encode()


def _nhsa_csv(rows: list[dict[str, str]]) -> bytes:
    header = ["id", "name", "primary", "secondary", "tertiary", "common_name", "material", "specifications", "enterprise"]
    lines = [",".join(header)]
    for row in rows:
        cells = {
            "id": row["code"],
            "name": row.get("name", ""),
            "primary": "01-非血管介入治疗类材料",
            "secondary": "01-注射穿刺类材料",
            "tertiary": "01-注射器",
            "common_name": "",
            "material": "",
            "specifications": row.get("specification", ""),
            "enterprise": "",
        }
        lines.append(",".join(cells[c] for c in header))
    return ("\n".join(lines) + "\n").encode()


Builder = Callable[[list[dict[str, str]]], bytes]
# (format, builder, the existing code the file touches, a new code of the right kind)
FORMATS: list[tuple[str, Builder, str, str]] = [
    ("canonical-csv", _canonical_csv, DRUG, NEW_DRUG),
    ("xlsx", _xlsx, DRUG, NEW_DRUG),
    ("nrdl-json", _nrdl_json, DRUG, NEW_DRUG),
    ("nhsa-consumables-csv", _nhsa_csv, CONSUMABLE, NEW_CONSUMABLE),
]


def _import(draft: Any, user: Any, fmt: str, data: bytes, mode: str = "merge") -> dict[str, Any]:
    return release_import(release=draft, file=io.BytesIO(data), fmt=fmt, user=user, mode=mode, filename=f"file.{fmt}")


def _item(draft: Any, code: str) -> CatalogItem:
    return CatalogItem.objects.get(release=draft, code=code)


@pytest.mark.parametrize(("fmt", "build", "code", "new_code"), FORMATS, ids=[f[0] for f in FORMATS])
def test_merge_a_blank_cell_keeps_the_current_value(draft, catalog_admin, fmt, build, code, new_code):
    row = {"code": code, "name": "新名称", "specification": "", "category": "", "restriction_text": ""}
    result = _import(draft, catalog_admin, fmt, build([row]))
    item = _item(draft, code)
    kept = (item.name, item.specification, item.category, item.restriction_text)
    assert (result["changed"], kept) == (
        1,
        ("新名称", CURRENT[code]["specification"], CURRENT[code]["category"], CURRENT[code]["restriction_text"]),
    )


@pytest.mark.parametrize(("fmt", "build", "code", "new_code"), FORMATS, ids=[f[0] for f in FORMATS])
def test_merge_counts_the_blank_cells_that_kept_a_value(draft, catalog_admin, fmt, build, code, new_code):
    row = {"code": code, "name": CURRENT[code]["name"], "specification": "", "category": CURRENT[code]["category"]}
    result = _import(draft, catalog_admin, fmt, build([row]))
    assert (result["changed"], result["unchanged"], result["kept_blank_items"], result["kept_blank"] >= 1) == (0, 1, 1, True)


@pytest.mark.parametrize(("fmt", "build", "code", "new_code"), FORMATS, ids=[f[0] for f in FORMATS])
def test_merge_a_blank_cell_of_a_new_item_stays_empty(draft, catalog_admin, fmt, build, code, new_code):
    row = {"code": new_code, "name": "新项目", "specification": "", "category": "02"}
    result = _import(draft, catalog_admin, fmt, build([row]))
    item = _item(draft, new_code)
    assert (result["added"], item.specification, item.restriction_text, result["kept_blank"]) == (1, "", "", 0)


@pytest.mark.parametrize(("fmt", "build", "code", "new_code"), FORMATS, ids=[f[0] for f in FORMATS])
def test_replace_a_blank_cell_clears_the_value(draft, catalog_admin, fmt, build, code, new_code):
    row = {"code": code, "name": CURRENT[code]["name"], "specification": "", "category": CURRENT[code]["category"]}
    result = _import(draft, catalog_admin, fmt, build([row]), mode="replace")
    item = _item(draft, code)
    assert (result["removed"], item.specification, item.restriction_text, result["kept_blank"]) == (1, "", "", 0)


def test_merge_blank_numbers_keep_their_values(draft, catalog_admin):
    row = {"code": DRUG, "name": "奥美拉唑肠溶胶囊", "category": "02", "restriction_max_days": "", "self_pay_ratio": ""}
    _import(draft, catalog_admin, "canonical-csv", _canonical_csv([row]))
    item = _item(draft, DRUG)
    assert (item.restriction_max_days, str(item.self_pay_ratio)) == (14, "0.1000")


def test_merge_a_column_the_file_lacks_keeps_its_values_without_counting_them(draft, catalog_admin):
    data = f"code,name,category\n{DRUG},奥美拉唑肠溶胶囊,02\n".encode()
    result = _import(draft, catalog_admin, "canonical-csv", data)
    item = _item(draft, DRUG)
    assert (item.restriction_text, item.manufacturer, result["kept_blank"], result["changed"]) == (
        RESTRICTION,
        CURRENT[DRUG]["manufacturer"],
        0,
        0,
    )


def test_merge_a_missing_json_key_is_a_blank(draft, catalog_admin):
    medicine = {"code": DRUG, "name": "奥美拉唑肠溶胶囊", "category": "乙"}
    data = json.dumps({"categories": [{"code": "XA", "medicines": [medicine]}]}, ensure_ascii=False).encode()
    _import(draft, catalog_admin, "nrdl-json", data)
    assert _item(draft, DRUG).restriction_text == RESTRICTION


def test_merge_of_the_consumables_list_keeps_each_items_payment_category(draft, catalog_admin):
    """The NHSA layout has no category: existing items keep theirs, new ones get the default."""
    rows = [{"code": CONSUMABLE, "name": "一次性使用无菌注射器"}, {"code": NEW_CONSUMABLE, "name": "注射针"}]
    _import(draft, catalog_admin, "nhsa-consumables-csv", _nhsa_csv(rows))
    assert (_item(draft, CONSUMABLE).category, _item(draft, NEW_CONSUMABLE).category) == ("01", "02")


def test_merge_a_new_item_still_needs_its_name(draft, catalog_admin):
    from apps.core.bulk import BulkFileRejected

    with pytest.raises(BulkFileRejected) as err:
        _import(draft, catalog_admin, "canonical-csv", _canonical_csv([{"code": NEW_DRUG, "name": "", "category": "01"}]))
    assert [(e["line"], e["column"], e["code"]) for e in err.value.errors] == [(2, "name", "missing_field")]


def test_merge_a_kept_successor_mapping_is_still_checked(draft, catalog_admin):
    """An item that replaces X keeps that mapping on a blank cell, so the file cannot add X back."""
    from apps.catalog import services
    from apps.core.bulk import BulkFileRejected

    services.item_put(release=draft, data={**CURRENT[DRUG], "replaces": [NEW_DRUG]}, user=catalog_admin)
    rows = [{"code": DRUG, "name": "奥美拉唑肠溶胶囊", "category": "02"}, {"code": NEW_DRUG, "name": "二甲双胍", "category": "01"}]
    data = "code,name,category,replaces\n" + "\n".join(f"{r['code']},{r['name']},{r['category']}," for r in rows) + "\n"
    with pytest.raises(BulkFileRejected) as err:
        _import(draft, catalog_admin, "canonical-csv", data.encode())
    assert [(e["line"], e["code"]) for e in err.value.errors] == [(2, "unknown_successor")]
