"""The outbox keys' triggers against a concurrent delete of the parent (real commits, two
connections): whichever of the insert and the delete comes second fails, so no committed
notice ever names a hospital that is gone (apps.core.statement_fks)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from apps.benefits.models import Province
from apps.catalog.models import CatalogRelease
from apps.hospitals.models import Hospital

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

INSERT_NOTICE = (
    "INSERT INTO notices_changenotice (hospital_id, seq, event_type, release_id, webhook_id, created_at)"
    " VALUES (%s, 1, 'catalog.release.published', %s, %s, now())"
)


def _connect() -> psycopg.Connection[Any]:
    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"] or None, port=s["PORT"] or None, user=s["USER"] or None, dbname=s["NAME"])


def _parents() -> tuple[int, int]:
    hospital = Hospital.objects.create(code="H31010199001", name="race", province=Province.objects.get(code="310000"))
    user = get_user_model().objects.create(username="race-publisher")
    release = CatalogRelease.objects.create(label="race-1", effective_from=dt.date(2031, 1, 1), created_by=user)
    return hospital.pk, release.pk


def _in_thread(fn: Any) -> tuple[threading.Thread, list[BaseException | None]]:
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            fn()
            outcome.append(None)
        except BaseException as exc:  # the test looks at it
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _notices_of(hospital_id: int) -> int:
    with _connect() as check:
        return int(check.execute("SELECT count(*) FROM notices_changenotice WHERE hospital_id = %s", [hospital_id]).fetchone()[0])


def test_a_hospital_deleted_while_its_notice_is_being_written_waits_and_then_fails():
    hospital_id, release_id = _parents()
    with _connect() as publisher, _connect() as deleter:
        publisher.execute(INSERT_NOTICE, [hospital_id, release_id, "msg_race_1"])

        def delete() -> None:
            with deleter.transaction():
                deleter.execute("DELETE FROM hospitals_hospital WHERE id = %s", [hospital_id])

        thread, outcome = _in_thread(delete)  # waits for the publisher's transaction
        publisher.commit()
        thread.join(timeout=30)
    assert (isinstance(outcome[0], psycopg.errors.ForeignKeyViolation), _notices_of(hospital_id)) == (True, 1)


def test_a_notice_written_while_its_hospital_is_being_deleted_waits_and_then_fails():
    hospital_id, release_id = _parents()
    with _connect() as deleter, _connect() as publisher:
        deleter.execute("DELETE FROM hospitals_hospital WHERE id = %s", [hospital_id])

        def insert() -> None:
            with publisher.transaction():
                publisher.execute(INSERT_NOTICE, [hospital_id, release_id, "msg_race_2"])

        thread, outcome = _in_thread(insert)  # waits for the deleter's transaction
        deleter.commit()
        thread.join(timeout=30)
    assert (isinstance(outcome[0], psycopg.errors.ForeignKeyViolation), _notices_of(hospital_id)) == (True, 0)
