import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from apps.catalog import services
from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogItem, CatalogRelease
from apps.core.errors import Conflict, Forbidden, ValidationFailed
from apps.core.roles import Role
from tests.factories import draft_release, publish, published_release, staff

pytestmark = pytest.mark.django_db
JAN_2025 = dt.date(2025, 1, 1)


@pytest.fixture
def submitted(catalog_admin):
    release = draft_release(label="2025.01", effective_from=JAN_2025, user=catalog_admin, items=generate_items(5))
    return services.release_submit(release=release, user=catalog_admin)


def test_second_approval_by_same_user_is_refused(submitted, catalog_admin):
    with pytest.raises(Conflict) as err:
        services.release_approve(release=submitted, user=catalog_admin)
    assert err.value.code == "same_user_cannot_approve"


def test_same_user_refusal_comes_before_role_check(catalog_admin):
    plain = staff(Role.AUDITOR, username="submitter-auditor")
    release = draft_release(label="x1", effective_from=JAN_2025, user=catalog_admin, items=generate_items(2))
    release = services.release_submit(release=release, user=catalog_admin)
    CatalogRelease.objects.filter(pk=release.pk).update(submitted_by=plain)
    release.refresh_from_db()
    with pytest.raises(Conflict) as err:
        services.release_approve(release=release, user=plain)
    assert err.value.code == "same_user_cannot_approve"


def test_database_refuses_approver_equal_to_submitter_even_without_service(submitted, catalog_admin):
    with pytest.raises(IntegrityError), transaction.atomic():
        CatalogRelease.objects.filter(pk=submitted.pk).update(approved_by=catalog_admin)


def test_auditor_cannot_approve(submitted, auditor):
    with pytest.raises(Forbidden):
        services.release_approve(release=submitted, user=auditor)


def test_publish_requires_approval(submitted, catalog_admin):
    with pytest.raises(Conflict) as err:
        services.release_publish(release=submitted, user=catalog_admin)
    assert err.value.code == "release_not_approved"


def test_reject_sends_release_back_to_draft_with_reason(submitted, reviewer):
    release = services.release_reject(release=submitted, user=reviewer, reason="missing consumables")
    assert (release.status, release.rejection_reason) == ("draft", "missing consumables")


def test_reject_needs_a_reason(submitted, reviewer):
    with pytest.raises(ValidationFailed):
        services.release_reject(release=submitted, user=reviewer, reason="  ")


def test_empty_draft_cannot_be_submitted(catalog_admin):
    release = draft_release(label="empty", effective_from=JAN_2025, user=catalog_admin)
    with pytest.raises(Conflict) as err:  # 409 release_empty (issue 23: a state, not the request's shape)
        services.release_submit(release=release, user=catalog_admin)
    assert err.value.code == "release_empty"


def test_items_of_a_release_in_review_cannot_be_edited(submitted, catalog_admin):
    with pytest.raises(Conflict) as err:
        services.item_put(release=submitted, data=next(generate_items(1, start=99)), user=catalog_admin)
    assert err.value.code == "release_not_draft"


def test_publish_stores_counts_sha_and_exports(catalog_admin, reviewer):
    release = published_release(label="2025.01", effective_from=JAN_2025, admin=catalog_admin, reviewer=reviewer, count=50)
    assert release.status == "published"
    assert release.counts["total"] == 50
    assert sum(release.counts["by_kind"].values()) == 50
    assert len(release.sha256) == 64
    assert set(release.exports) == {"csv_gz", "jsonl_gz"}
    assert release.diff_counts == {"added": 50, "removed": 0, "changed": 0, "retired": 0}


def test_manifest_sha256_is_of_the_uncompressed_canonical_csv(catalog_admin, reviewer, settings):
    import gzip
    import hashlib
    from pathlib import Path

    release = published_release(label="2025.01", effective_from=JAN_2025, admin=catalog_admin, reviewer=reviewer, count=30)
    raw = gzip.decompress((Path(settings.MEDIA_ROOT) / release.exports["csv_gz"]["path"]).read_bytes())
    assert hashlib.sha256(raw).hexdigest() == release.sha256
    assert raw.count(b"\n") == 31


def test_two_published_releases_cannot_share_an_effective_date(catalog_admin, reviewer):
    published_release(label="a", effective_from=JAN_2025, admin=catalog_admin, reviewer=reviewer, count=3)
    second = draft_release(label="b", effective_from=JAN_2025, user=catalog_admin, items=generate_items(3, start=10))
    services.release_submit(release=second, user=catalog_admin)
    services.release_approve(release=second, user=reviewer)
    with pytest.raises(Conflict) as err:
        services.release_publish(release=second, user=catalog_admin)
    assert err.value.code == "effective_date_taken"


def test_draft_copies_items_of_based_on_release(catalog_admin, reviewer):
    first = published_release(label="2025.01", effective_from=JAN_2025, admin=catalog_admin, reviewer=reviewer, count=25)
    draft = services.release_create_draft(label="2026.01", effective_from=dt.date(2026, 1, 1), user=catalog_admin, based_on=first)
    assert CatalogItem.objects.filter(release=draft).count() == 25


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE catalog_catalogitem SET name = 'tampered' WHERE release_id = %s",
        "DELETE FROM catalog_catalogitem WHERE release_id = %s",
        "UPDATE catalog_catalogrelease SET effective_from = '2030-01-01' WHERE id = %s",
        "DELETE FROM catalog_catalogrelease WHERE id = %s",
        "UPDATE catalog_releasechange SET change = 'removed' WHERE release_id = %s",
        "INSERT INTO catalog_catalogitem (release_id, code, kind, name, generic_name, dosage_form, specification, manufacturer,"
        " unit, pricing_unit, category, restriction_text, restriction_indication, restriction_hospital_level, category_path, replaces)"
        " VALUES (%s, '001102000010000', 'service', 'x', '', '', '', '', '', '', '01', '', '', '', '', '[]')",
    ],
)
def test_published_release_is_immutable_under_raw_sql(catalog_admin, reviewer, sql):
    release = published_release(label="2025.01", effective_from=JAN_2025, admin=catalog_admin, reviewer=reviewer, count=5)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [release.pk])


def test_moving_a_draft_item_into_a_published_release_is_refused_under_raw_sql(catalog_admin, reviewer):
    published = published_release(label="2025.01", effective_from=JAN_2025, admin=catalog_admin, reviewer=reviewer, count=3)
    draft = draft_release(label="d", effective_from=dt.date(2026, 1, 1), user=catalog_admin, items=generate_items(3, start=10))
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_catalogitem SET release_id = %s WHERE release_id = %s", [published.pk, draft.pk])


def test_draft_items_can_still_be_changed_with_raw_sql(catalog_admin):
    release = draft_release(label="d", effective_from=JAN_2025, user=catalog_admin, items=generate_items(3))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_catalogitem SET name = 'renamed' WHERE release_id = %s", [release.pk])
    assert set(CatalogItem.objects.filter(release=release).values_list("name", flat=True)) == {"renamed"}


def test_published_release_refuses_service_edits(catalog_admin, reviewer):
    release = published_release(label="2025.01", effective_from=JAN_2025, admin=catalog_admin, reviewer=reviewer, count=3)
    code = CatalogItem.objects.filter(release=release).first().code
    with pytest.raises(Conflict):
        services.item_delete(release=release, code=code, user=catalog_admin)


def test_history_records_who_changed_an_item_and_why(catalog_admin):
    release = draft_release(label="d", effective_from=JAN_2025, user=catalog_admin)
    data = next(generate_items(1))
    services.item_put(release=release, data=data, user=catalog_admin, reason="initial load")
    services.item_put(release=release, data={**data, "name": "新名称"}, user=catalog_admin, reason="rename")
    services.item_delete(release=release, code=data["code"], user=catalog_admin, reason="delisted")
    history = CatalogItem.history.filter(code=data["code"]).order_by("history_date")
    assert [(h.history_type, h.history_change_reason, h.history_user_id) for h in history] == [
        ("+", "initial load", catalog_admin.pk),
        ("~", "rename", catalog_admin.pk),
        ("-", "delisted", catalog_admin.pk),
    ]


def test_history_records_release_workflow_steps(submitted, reviewer, catalog_admin):
    services.release_approve(release=submitted, user=reviewer)
    services.release_publish(release=submitted, user=catalog_admin)
    steps = list(submitted.history.order_by("history_date").values_list("status", "history_user_id", "history_change_reason"))
    assert steps == [
        ("draft", catalog_admin.pk, "created empty"),
        ("in_review", catalog_admin.pk, "submitted"),
        ("approved", reviewer.pk, "approved"),
        ("published", catalog_admin.pk, "published"),
    ]


def test_bad_code_is_refused_with_field_and_reason(catalog_admin):
    release = draft_release(label="d", effective_from=JAN_2025, user=catalog_admin)
    with pytest.raises(ValidationFailed) as err:
        services.item_put(release=release, data={"code": "XA01ABD075A00201010048", "name": "x", "category": "01"}, user=catalog_admin)
    assert err.value.errors[0]["field"] == "code"
    assert err.value.errors[0]["code"] == "code_format"


def test_publish_announces_itself_after_commit(catalog_admin, reviewer, django_capture_on_commit_callbacks):
    from apps.catalog.signals import release_published

    heard = []

    def listener(sender, release, **kwargs):
        heard.append(release.label)

    release_published.connect(listener)
    try:
        release = draft_release(label="s", effective_from=JAN_2025, user=catalog_admin, items=generate_items(2))
        with django_capture_on_commit_callbacks(execute=True):
            publish(release, admin=catalog_admin, reviewer=reviewer)
    finally:
        release_published.disconnect(listener)
    assert heard == ["s"]
