import datetime as dt

import pytest
import time_machine

from apps.catalog.demo import generate_items
from apps.catalog.selectors import item_lookup, release_in_force
from tests.factories import draft_release, published_release

pytestmark = pytest.mark.django_db
ITEMS = list(generate_items(6, seed=11))


@pytest.fixture
def two_releases(catalog_admin, reviewer):
    first = published_release(label="2025.01", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, items=ITEMS[:4])
    successor = {**ITEMS[4], "replaces": [ITEMS[0]["code"]]}
    second = published_release(
        label="2026.01", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, items=[*ITEMS[1:4], successor]
    )
    return first, second


@pytest.mark.parametrize(
    ("on_date", "expected"),
    [
        (dt.date(2024, 12, 31), None),
        (dt.date(2025, 1, 1), "2025.01"),
        (dt.date(2025, 12, 31), "2025.01"),
        (dt.date(2026, 1, 1), "2026.01"),
        (dt.date(2030, 6, 1), "2026.01"),
    ],
)
def test_release_in_force_is_the_latest_effective_on_or_before_the_date(two_releases, on_date, expected):
    release = release_in_force(on_date=on_date)
    assert (release.label if release else None) == expected


def test_future_release_is_published_but_not_in_force_until_its_date(catalog_admin, reviewer):
    published_release(label="now", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, items=ITEMS[:2])
    published_release(label="next", effective_from=dt.date(2027, 1, 1), admin=catalog_admin, reviewer=reviewer, items=ITEMS[2:4])
    with time_machine.travel(dt.date(2026, 11, 25)):
        assert release_in_force(on_date=dt.date.today()).label == "now"
    assert release_in_force(on_date=dt.date(2027, 1, 1)).label == "next"


def test_drafts_and_approved_releases_are_never_in_force(catalog_admin):
    draft_release(label="d", effective_from=dt.date(2020, 1, 1), user=catalog_admin, items=ITEMS[:1])
    assert release_in_force(on_date=dt.date(2026, 1, 1)) is None


def test_lookup_before_and_after_the_new_release_takes_effect(two_releases):
    code = ITEMS[0]["code"]
    before = item_lookup(code=code, on_date=dt.date(2025, 12, 31))
    after = item_lookup(code=code, on_date=dt.date(2026, 1, 1))
    assert (before["status"], before["release"].label) == ("active", "2025.01")
    assert (after["status"], after["retired_in"].label, after["successors"]) == ("retired", "2026.01", [ITEMS[4]["code"]])


def test_lookup_of_a_code_never_seen_is_none(two_releases):
    assert item_lookup(code="XA01ABD075A002010100001", on_date=dt.date(2026, 2, 1)) is None


def test_removed_code_without_successor_is_retired_with_no_successors(catalog_admin, reviewer):
    published_release(label="a", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, items=ITEMS[:2])
    published_release(label="b", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, items=ITEMS[1:2])
    result = item_lookup(code=ITEMS[0]["code"], on_date=dt.date(2026, 3, 1))
    assert (result["status"], result["successors"]) == ("retired", [])


def test_former_code_resolves_to_the_item_that_replaces_it(catalog_admin, reviewer):
    former = "XA01ABD075A00201010048"[:20]
    published_release(
        label="a", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, items=[{**ITEMS[0], "replaces": [former]}]
    )
    result = item_lookup(code=former, on_date=dt.date(2025, 6, 1))
    assert (result["status"], result["item"].code) == ("active", ITEMS[0]["code"])
