"""The diff, on hypothesis-generated pairs of releases: applying it to the old release gives the new one."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.catalog import selectors, services
from apps.catalog.demo import generate_items
from apps.catalog.models import ITEM_CONTENT_FIELDS, CatalogItem, ReleaseChange
from apps.catalog.selectors import compute_diff_rows, item_as_dict
from tests.factories import draft_release, publish, published_release

pytestmark = pytest.mark.django_db

POOL = list(generate_items(40, seed=7))
CODES = [i["code"] for i in POOL]

item_edit = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["阿莫西林胶囊", "改名", "=cmd|' /C calc'!A0", "名称 with space"]),
        "category": st.sampled_from(["01", "02", "03"]),
        "self_pay_ratio": st.sampled_from([None, "0.1000", "0.0500"]),
        "restriction_max_days": st.sampled_from([None, 7, 30]),
    }
)


@st.composite
def release_pair(draw: Any) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Old and new item sets drawn from one pool, with edits and successor links."""
    old_codes = draw(st.sets(st.sampled_from(CODES), max_size=15))
    new_codes = draw(st.sets(st.sampled_from(CODES), max_size=15))
    by_code = {i["code"]: i for i in POOL}
    old = {c: dict(by_code[c]) for c in old_codes}
    new = {c: {**by_code[c], **draw(item_edit)} for c in new_codes}
    gone = sorted(old_codes - new_codes)
    for code in sorted(new_codes):
        if gone and draw(st.booleans()):
            new[code]["replaces"] = sorted(set(draw(st.lists(st.sampled_from(gone), min_size=1, max_size=2))))
    return old, new


def _apply(old: dict[str, dict[str, Any]], diff: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = {code: dict(item) for code, item in old.items()}
    for code in diff["removed"]:
        del result[code]
    for row in diff["retired"]:
        del result[row["code"]]
    for row in diff["changed"]:
        for field, (_before, after) in row["fields"].items():
            result[row["code"]][field] = after
    for item in diff["added"]:
        result[item["code"]] = dict(item)
    return result


def _snapshot(release: Any) -> dict[str, dict[str, Any]]:
    return {i.code: item_as_dict(i) for i in CatalogItem.objects.filter(release=release)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pair=release_pair())
def test_applying_the_diff_to_old_gives_new(catalog_admin, pair):
    old_items, new_items = pair
    CatalogItem.objects.all().delete()
    old = draft_release(label=f"o{id(pair)}", effective_from=dt.date(2025, 1, 1), user=catalog_admin, items=old_items.values())
    new = draft_release(label=f"n{id(pair)}", effective_from=dt.date(2026, 1, 1), user=catalog_admin, items=new_items.values())
    diff = selectors.catalog_diff(old=old, new=new)
    assert _apply(_snapshot(old), diff) == _snapshot(new)
    retired = {r["code"] for r in diff["retired"]}
    assert all(r["successors"] for r in diff["retired"])
    assert retired.isdisjoint(diff["removed"])


def _expected_rows(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The diff by its definition, code by code over two snapshots: the oracle for the SQL."""
    successors: dict[str, list[str]] = {}
    for code, item in new.items():
        for replaced in item["replaces"]:
            successors.setdefault(replaced, []).append(code)
    rows: list[dict[str, Any]] = []
    for code in sorted(old.keys() | new.keys()):
        before, after = old.get(code), new.get(code)
        if before is None:
            rows.append({"code": code, "change": "added", "fields": {}, "successors": []})
        elif after is None:
            succ = sorted(successors.get(code, []))
            rows.append({"code": code, "change": "retired" if succ else "removed", "fields": {}, "successors": succ})
        elif fields := {f: [before[f], after[f]] for f in ITEM_CONTENT_FIELDS if before[f] != after[f]}:
            rows.append({"code": code, "change": "changed", "fields": fields, "successors": []})
    return rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pair=release_pair())
def test_diff_rows_match_a_code_by_code_comparison_of_the_two_releases(catalog_admin, pair):
    old_items, new_items = pair
    CatalogItem.objects.all().delete()
    old = draft_release(label=f"o{id(pair)}", effective_from=dt.date(2025, 1, 1), user=catalog_admin, items=old_items.values())
    new = draft_release(label=f"n{id(pair)}", effective_from=dt.date(2026, 1, 1), user=catalog_admin, items=new_items.values())
    assert compute_diff_rows(old_id=old.pk, new_id=new.pk) == _expected_rows(_snapshot(old), _snapshot(new))


def test_changed_fields_carry_old_and_new_values(catalog_admin, reviewer):
    item = POOL[0] | {"category": "02", "self_pay_ratio": "0.1000"}
    first = published_release(label="a", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, items=[item])
    draft = services.release_create_draft(label="b", effective_from=dt.date(2026, 1, 1), user=catalog_admin, based_on=first)
    services.item_put(release=draft, data={**item, "category": "01", "self_pay_ratio": None}, user=catalog_admin)
    diff = selectors.catalog_diff(old=first, new=draft)
    assert diff["changed"] == [{"code": item["code"], "fields": {"category": ["02", "01"], "self_pay_ratio": ["0.1000", None]}}]
    assert Decimal(diff["changed"][0]["fields"]["self_pay_ratio"][0]) == Decimal("0.1")


def test_gone_code_with_successor_is_retired_and_without_is_removed(catalog_admin, reviewer):
    a, b, c = POOL[0], POOL[1], POOL[2]
    first = published_release(label="a", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, items=[a, b])
    second = published_release(
        label="b", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, items=[{**c, "replaces": [a["code"]]}]
    )
    diff = selectors.catalog_diff(old=first, new=second)
    assert diff["retired"] == [{"code": a["code"], "successors": [c["code"]]}]
    assert diff["removed"] == [b["code"]]
    assert second.diff_counts == {"added": 1, "removed": 1, "changed": 0, "retired": 1}


def test_a_first_release_stores_the_diff_against_no_release(catalog_admin, reviewer):
    # Published without the field-by-field diff query (every item is added); the stored rows
    # are the ones that query gives against an empty release.
    items = [POOL[0], POOL[1], POOL[2]]
    draft = draft_release(label="first", effective_from=dt.date(2025, 1, 1), user=catalog_admin, items=items)
    computed = compute_diff_rows(old_id=None, new_id=draft.pk)
    first = publish(draft, admin=catalog_admin, reviewer=reviewer)
    stored = [
        dict(r) for r in ReleaseChange.objects.filter(release=first).order_by("code").values("code", "change", "fields", "successors")
    ]
    assert (stored, first.diff_counts["added"]) == (computed, 3)
