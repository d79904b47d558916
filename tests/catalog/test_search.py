"""Item search (?q=) on the hospitals' item list and the staff item list: code prefix, Chinese
substrings, pinyin initials, ranked; the same envelope and item shape as the plain list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from apps.catalog import search
from apps.catalog.models import ItemSearch, SearchTerm
from tests.factories import draft_release, publish
from tests.hospitals.api_helpers import hospital_client

pytestmark = pytest.mark.django_db

JAN_2026 = dt.date(2026, 1, 1)


def drug(n: int) -> str:
    """A valid 23-character drug code; larger ``n`` sorts later."""
    return f"XA01ABD075A{n % 1000:03d}0101{n:05d}"


AMOXICILLIN = {
    "code": drug(30),
    "name": "阿莫西林胶囊",
    "generic_name": "阿莫西林",
    "manufacturer": "华北制药股份有限公司",
    "category": "01",
}
COMPOUND = {"code": drug(10), "name": "复方阿莫西林颗粒", "manufacturer": "齐鲁制药有限公司", "category": "02"}
CEFIXIME = {"code": drug(20), "name": "头孢克肟片", "manufacturer": "阿莫西林制药厂", "category": "01"}
CODE_IN_NAME = {"code": drug(5), "name": f"替代{drug(40)}的新规格", "category": "01"}
EXACT = {"code": drug(40), "name": "布洛芬缓释胶囊", "category": "01"}
SERVICE = {"code": "001102000010000", "name": "胸部CT平扫", "category": "01"}
ITEMS = [AMOXICILLIN, COMPOUND, CEFIXIME, CODE_IN_NAME, EXACT, SERVICE]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Manifests are cached by label: a label reused by the next test must not find this one's."""
    from django.core.cache import cache

    from apps.hospitals import selectors

    cache.clear()
    selectors._PUBLISHED.clear()
    yield
    cache.clear()
    selectors._PUBLISHED.clear()


@pytest.fixture
def release(catalog_admin, reviewer, django_capture_on_commit_callbacks):
    draft = draft_release(label="2026.01", effective_from=JAN_2026, user=catalog_admin, items=ITEMS)
    with django_capture_on_commit_callbacks(execute=True):  # the search index is after-commit work
        return publish(draft, admin=catalog_admin, reviewer=reviewer)


@pytest.fixture
def client():
    return hospital_client()[2]


def codes(client, q: str, **params) -> list[str]:
    response = client.get("/api/v1/catalog/releases/2026.01/items/", {"q": q, **params})
    assert response.status_code == 200, response.content
    return [row["code"] for row in response.json()["results"]]


def test_a_name_prefix_ranks_before_a_name_substring_whatever_the_codes(release, client):
    # COMPOUND's code sorts first, yet 阿莫西林胶囊 starts with the query
    assert codes(client, "阿莫西林")[:2] == [AMOXICILLIN["code"], COMPOUND["code"]]


def test_a_manufacturer_match_ranks_after_name_matches(release, client):
    assert codes(client, "阿莫西林") == [AMOXICILLIN["code"], COMPOUND["code"], CEFIXIME["code"]]


def test_the_exact_code_ranks_first_even_before_a_name_containing_it(release, client):
    assert codes(client, drug(40)) == [EXACT["code"], CODE_IN_NAME["code"]]


def test_a_code_prefix_finds_the_codes_it_starts_in_code_order(release, client):
    assert codes(client, "xa01abd075a0") == sorted(i["code"] for i in ITEMS if i["code"].startswith("XA01ABD075A0"))


def test_pinyin_initials_find_the_chinese_name(release, client):
    assert codes(client, "amxl") == [AMOXICILLIN["code"], COMPOUND["code"]]


def test_full_width_and_upper_case_initials_are_the_same_query(release, client):
    assert codes(client, "ＡＭＸＬ") == codes(client, "amxl")


def test_latin_letters_inside_a_chinese_name_match_case_insensitively(release, client):
    assert codes(client, "ct平扫") == [SERVICE["code"]]


def test_a_chinese_substring_of_two_characters_is_found(release, client):
    assert codes(client, "孢克") == [CEFIXIME["code"]]


def test_like_wildcards_in_the_query_are_plain_characters(release, client):
    assert codes(client, "%") == []


def test_search_answers_the_item_shape_of_the_plain_list(release, client):
    plain = client.get("/api/v1/catalog/releases/2026.01/items/").json()["results"]
    found = client.get("/api/v1/catalog/releases/2026.01/items/", {"q": "阿莫西林"}).json()["results"]
    by_code = {row["code"]: row for row in plain}
    assert found == [by_code[code] for code in (AMOXICILLIN["code"], COMPOUND["code"], CEFIXIME["code"])]


def test_staff_search_answers_the_item_shape_of_the_staff_list(release, catalog_admin, api):
    staff = api(catalog_admin)
    plain = staff.get("/api/v1/releases/2026.01/items/").json()["results"]
    found = staff.get("/api/v1/releases/2026.01/items/", {"q": "头孢克肟"}).json()["results"]
    assert found == [row for row in plain if row["code"] == CEFIXIME["code"]]


def test_pages_follow_the_ranking_without_gaps_or_repeats(release, client):
    seen, url = [], "/api/v1/catalog/releases/2026.01/items/?q=阿莫西林&page_size=1"
    while url:
        body = client.get(url).json()
        seen += [row["code"] for row in body["results"]]
        url = body["next"]
    assert seen == codes(client, "阿莫西林")


def test_kind_filters_search_results(release, client):
    assert codes(client, "ct", kind="service") == [SERVICE["code"]] and codes(client, "ct", kind="drug") == []


def test_a_query_longer_than_64_characters_is_refused(release, client):
    response = client.get("/api/v1/catalog/releases/2026.01/items/", {"q": "药" * 65})
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "q")


def test_a_cursor_not_given_out_by_search_is_refused(release, client):
    response = client.get("/api/v1/catalog/releases/2026.01/items/", {"q": "阿莫西林", "cursor": "bm90LWEtY3Vyc29y"})
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "cursor")


def test_q_cannot_be_combined_with_changed_since(release, client):
    response = client.get("/api/v1/catalog/releases/2026.01/items/", {"q": "阿莫西林", "changed_since": "2026.01"})
    assert response.status_code == 400


def test_the_publishs_after_commit_work_writes_one_search_row_per_item(release):
    assert ItemSearch.objects.filter(release=release).count() == len(ITEMS)


def test_a_release_is_searched_before_its_index_is_written(catalog_admin, reviewer, client):
    draft = draft_release(label="2026.01", effective_from=JAN_2026, user=catalog_admin, items=ITEMS)
    publish(draft, admin=catalog_admin, reviewer=reviewer)  # its after-commit work has not run
    assert (search.release_is_indexed(release_id=draft.pk), codes(client, "阿莫西林")[:1]) == (False, [AMOXICILLIN["code"]])


def test_the_sweep_indexes_a_published_release_whose_task_was_lost(catalog_admin, reviewer):
    from apps.catalog.tasks import search_index_due

    draft = draft_release(label="2026.01", effective_from=JAN_2026, user=catalog_admin, items=ITEMS)
    publish(draft, admin=catalog_admin, reviewer=reviewer)
    assert (search_index_due(), search.release_is_indexed(release_id=draft.pk)) == (len(ITEMS), True)


def test_pinyin_initials_are_stored_once_per_text_at_publish(release):
    assert SearchTerm.objects.get(text="阿莫西林胶囊").initials == "amxljn"


def test_search_rows_of_a_published_release_cannot_be_deleted(release):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_itemsearch WHERE release_id = %s", [release.pk])


def test_staff_search_a_draft_in_the_same_order_as_a_published_release(release, catalog_admin, api):
    draft_release(label="2026.02", effective_from=dt.date(2026, 7, 1), user=catalog_admin, based_on=release)
    staff = api(catalog_admin)

    def staff_codes(label: str) -> list[str]:
        return [row["code"] for row in staff.get(f"/api/v1/releases/{label}/items/", {"q": "阿莫西林"}).json()["results"]]

    assert staff_codes("2026.02") == staff_codes("2026.01") == [AMOXICILLIN["code"], COMPOUND["code"], CEFIXIME["code"]]


def test_an_item_edited_into_a_draft_is_found_by_its_initials(catalog_admin, api):
    from apps.catalog import services

    draft = draft_release(label="2026.03", effective_from=dt.date(2026, 9, 1), user=catalog_admin)
    services.item_put(release=draft, data={"code": drug(77), "name": "瑞舒伐他汀钙片", "category": "01"}, user=catalog_admin)
    rows = api(catalog_admin).get("/api/v1/releases/2026.03/items/", {"q": "rsftt"}).json()["results"]
    assert [row["code"] for row in rows] == [drug(77)]


def test_an_unindexed_release_answers_like_an_indexed_one(release):
    indexed = search.items_search(release_id=release.pk, q="阿莫西林", indexed=True).codes
    assert search.items_search(release_id=release.pk, q="阿莫西林", indexed=False).codes == indexed


def test_pinyin_initials_keep_latin_letters_and_digits():
    assert search.pinyin_initials("胸部CT平扫（0.5g）") == "xbctps05g"


def test_the_index_command_indexes_a_release_published_before_search_existed(release, capsys):
    from django.core.management import call_command

    with connection.cursor() as cursor:  # as if published before the search rows existed
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off for this one DELETE
        cursor.execute("DELETE FROM catalog_itemsearch WHERE release_id = %s", [release.pk])
        cursor.execute("DELETE FROM catalog_searchtermuse WHERE release_id = %s", [release.pk])
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    call_command("catalog_search_index")
    assert (search.release_is_indexed(release_id=release.pk), capsys.readouterr().out) == (
        True,
        f"2026.01: {len(ITEMS)} search rows written\n",
    )


@pytest.mark.parametrize(("per_term", "small"), [(0, 10**9), (0, 0)], ids=["term-index-then-sort", "walk-in-code-order"])
def test_every_way_of_reading_a_rank_gives_the_same_pages(release, monkeypatch, per_term, small):
    queries = ["阿莫西林", "amxl", "制药", "ct", drug(40), "xa01abd075a0"]

    def pages(q: str) -> list[str]:
        seen, cursor = [], ""
        while True:
            page = search.items_search(release_id=release.pk, q=q, size=2, cursor=cursor)
            seen += page.codes
            if not page.next_cursor:
                return seen
            cursor = page.next_cursor

    expected = [pages(q) for q in queries]
    monkeypatch.setattr(search, "PER_TERM_BRANCHES", per_term)
    monkeypatch.setattr(search, "SMALL_RANK", small)
    assert [pages(q) for q in queries] == expected


def test_search_rows_are_refused_for_a_draft(catalog_admin):
    draft = draft_release(label="2026.04", effective_from=dt.date(2026, 10, 1), user=catalog_admin, items=[AMOXICILLIN])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalog_itemsearch (release_id, code, kind, category) VALUES (%s, %s, 'drug', '01')",
            [draft.pk, AMOXICILLIN["code"]],
        )


@pytest.fixture
def committed_index(release, monkeypatch):
    """The release as a web process sees it once its search rows are committed (tests run
    inside a transaction, where ``release_is_indexed`` does not remember them)."""
    monkeypatch.setattr(search, "_INDEXED", {release.pk})
    monkeypatch.setattr(search, "_TERMS_MEMO", type(search._TERMS_MEMO)())
    return release


def test_a_query_asked_again_of_an_indexed_release_is_one_statement_with_the_same_page(committed_index):
    from django.test.utils import CaptureQueriesContext

    first = search.items_search(release_id=committed_index.pk, q="阿莫西林", size=2)
    with CaptureQueriesContext(connection) as captured:
        again = search.items_search(release_id=committed_index.pk, q="阿莫西林", size=2)
    assert (len(captured), again) == (1, first)


def test_remembered_terms_answer_every_page_as_the_terms_statement_does(committed_index, monkeypatch):
    def pages(q: str) -> list[str]:
        seen, cursor = [], ""
        while True:
            page = search.items_search(release_id=committed_index.pk, q=q, size=1, cursor=cursor)
            seen += page.codes
            if not page.next_cursor:
                return seen
            cursor = page.next_cursor

    queries = ["阿莫西林", "amxl", "制药", "ct", drug(40), "xa01abd075a0"]
    fresh = [pages(q) for q in queries]  # fills the memo on each first page
    assert [pages(q) for q in queries] == fresh and len(search._TERMS_MEMO) == len(queries)


def test_terms_of_a_draft_are_not_remembered(catalog_admin, monkeypatch):
    draft = draft_release(label="2026.05", effective_from=dt.date(2026, 11, 1), user=catalog_admin, items=[AMOXICILLIN])
    monkeypatch.setattr(search, "_TERMS_MEMO", type(search._TERMS_MEMO)())
    assert search.items_search(release_id=draft.pk, q="阿莫西林").codes == [AMOXICILLIN["code"]]
    assert len(search._TERMS_MEMO) == 0


def test_the_memo_forgets_the_least_recently_used_query_first(committed_index, monkeypatch):
    monkeypatch.setattr(search, "TERMS_MEMO_SIZE", 2)
    for q in ("阿莫西林", "amxl", "阿莫西林", "制药"):
        search.items_search(release_id=committed_index.pk, q=q)
    assert list(search._TERMS_MEMO) == [(committed_index.pk, "阿莫西林"), (committed_index.pk, "制药")]


def _page_statement_plans(*fragments: str) -> list[tuple[int, int]]:
    """(generic plans, custom plans) of the prepared page statements holding ``fragments``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'WITH hits AS%%'"
            + " AND statement LIKE %s" * len(fragments),
            [f"%{fragment}%" for fragment in fragments],
        )
        return cursor.fetchall()


def test_a_page_statement_is_prepared_once_and_run_with_its_generic_plan_from_the_first_time(committed_index):
    for _ in range(2):
        search.items_search(release_id=committed_index.pk, q="阿莫西林", size=2)
    assert _page_statement_plans("unnest", "LIMIT 3") == [(2, 0)]


def test_a_walk_in_code_order_is_planned_for_its_values(committed_index, monkeypatch):
    monkeypatch.setattr(search, "PER_TERM_BRANCHES", 0)
    monkeypatch.setattr(search, "SMALL_RANK", 0)
    assert search.items_search(release_id=committed_index.pk, q="阿莫西林", size=7).codes
    assert _page_statement_plans("LIMIT 8") == []


def test_a_search_of_a_release_this_process_has_seen_does_not_read_the_release_again(release, client, monkeypatch):
    from apps.hospitals import selectors

    assert codes(client, "阿莫西林")  # the first search reads the release (shared cache, else database)
    reads = []
    original = selectors.release_manifest_record
    monkeypatch.setattr(selectors, "release_manifest_record", lambda **kw: reads.append(kw) or original(**kw))
    assert codes(client, "制药") and reads == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_release_the_search_sweep_cannot_index_does_not_keep_the_others_unindexed(catalog_admin, reviewer):
    """Two releases published while their indexing tasks were lost; another transaction holds the
    first one's row: the sweep gives up on it after its lock timeout, indexes the second all the
    same and names the first; the next sweep indexes it."""
    from apps.catalog.signals import release_published
    from tests.security.test_db_invariants_as_app_role import connect_as

    release_published.disconnect(dispatch_uid="catalog-search-index")  # the tasks are lost
    try:
        first = publish(
            draft_release(label="2026.01", effective_from=JAN_2026, user=catalog_admin, items=ITEMS), admin=catalog_admin, reviewer=reviewer
        )
        second = publish(
            draft_release(label="2026.02", effective_from=dt.date(2026, 2, 1), user=catalog_admin, items=ITEMS),
            admin=catalog_admin,
            reviewer=reviewer,
        )
    finally:
        release_published.connect(search.index_after_publish, dispatch_uid="catalog-search-index")
    holder = connect_as(connection.settings_dict["USER"])
    try:
        holder.execute("SELECT 1 FROM catalog_catalogrelease WHERE id = %s FOR UPDATE", [first.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        try:
            with pytest.raises(search.ReleasesNotIndexed, match=rf"\[{first.pk}\]"):
                search.releases_index_due()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        assert (search.release_is_indexed(release_id=first.pk), search.release_is_indexed(release_id=second.pk)) == (False, True)
    finally:
        holder.close()
    assert search.releases_index_due() == len(ITEMS)  # the next sweep, the lock gone
    assert search.release_is_indexed(release_id=first.pk)
