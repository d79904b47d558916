"""The outbox's keys (counter, notice, delivery → hospital, release, notice, endpoint) are checked
once per statement by triggers (apps.core.statement_fks), not per row by FOREIGN KEY constraints:
a row without its parent is refused by the statement that writes it, and a parent still named
by outbox rows cannot be deleted, while Django's own cascade still deletes both."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from apps.hospitals.models import Hospital
from apps.notices.models import ChangeNotice, NoticeCounter, NoticeDelivery

from .notice_helpers import hospital, release, with_endpoint

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:9/hook"


def _published_with_one_delivery(catalog_admin, reviewer):  # type: ignore[no-untyped-def]
    h = hospital(1)
    endpoint, _ = with_endpoint(h, HOOK)
    r = release(1, admin=catalog_admin, reviewer=reviewer)
    return h, endpoint, r, ChangeNotice.objects.get(release=r, hospital=h)


def _execute(sql: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_notice_naming_no_hospital_is_refused_by_its_insert(catalog_admin, reviewer):
    _, _, r, _ = _published_with_one_delivery(catalog_admin, reviewer)
    missing = Hospital.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    with pytest.raises(IntegrityError, match="hospital_id"), transaction.atomic():
        _execute(
            "INSERT INTO notices_changenotice (hospital_id, seq, event_type, release_id, webhook_id, created_at)"
            " VALUES (%s, 1, 'catalog.release.published', %s, 'msg_orphan', now())",
            [missing, r.pk],
        )


def test_a_notice_naming_no_release_is_refused_by_its_insert(catalog_admin, reviewer):
    h, _, r, _ = _published_with_one_delivery(catalog_admin, reviewer)
    with pytest.raises(IntegrityError, match="release_id"), transaction.atomic():
        _execute(
            "INSERT INTO notices_changenotice (hospital_id, seq, event_type, release_id, webhook_id, created_at)"
            " VALUES (%s, 99, 'catalog.release.published', %s, 'msg_orphan', now())",
            [h.pk, r.pk + 1000],
        )


def test_a_delivery_naming_no_endpoint_is_refused_by_its_insert(catalog_admin, reviewer):
    _, endpoint, _, notice = _published_with_one_delivery(catalog_admin, reviewer)
    with pytest.raises(IntegrityError, match="endpoint_id"), transaction.atomic():
        _execute(
            "INSERT INTO notices_noticedelivery (notice_id, endpoint_id, state, attempts, last_error, last_error_code, created_at)"
            " VALUES (%s, %s, 'pending', 0, '', '', now())",
            [notice.pk, endpoint.pk + 1000],
        )


def test_a_delivery_moved_to_a_missing_endpoint_is_refused(catalog_admin, reviewer):
    _, endpoint, _, notice = _published_with_one_delivery(catalog_admin, reviewer)
    with pytest.raises(IntegrityError, match="endpoint_id"), transaction.atomic():
        NoticeDelivery.objects.filter(notice=notice).update(endpoint_id=endpoint.pk + 1000)


def test_a_hospital_row_its_notices_still_name_cannot_be_deleted(catalog_admin, reviewer):
    h, _, _, _ = _published_with_one_delivery(catalog_admin, reviewer)
    with pytest.raises(IntegrityError, match="still named"), transaction.atomic():
        # Raw SQL, as a script would: Django's own delete removes the notices first.
        _execute("DELETE FROM notices_noticecounter WHERE hospital_id = %s", [h.pk])
        _execute("DELETE FROM hospitals_hospital WHERE id = %s", [h.pk])


def test_deleting_a_hospital_through_django_deletes_its_outbox_rows(catalog_admin, reviewer):
    h, _, _, notice = _published_with_one_delivery(catalog_admin, reviewer)
    h.delete()
    assert (
        ChangeNotice.objects.filter(pk=notice.pk).exists(),
        NoticeDelivery.objects.filter(notice_id=notice.pk).exists(),
        NoticeCounter.objects.filter(hospital_id=h.pk).exists(),
    ) == (False, False, False)
