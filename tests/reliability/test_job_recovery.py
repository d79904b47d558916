"""The job sweep: a job left ``running`` by a dead worker (its runner lock is free) is queued
again; one a live worker holds is not; a queued job is re-sent only after the grace period."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.core.jobs import JOB_LOCK_CLASS, job_create, job_runner, job_start, jobs_orphaned, jobs_recover
from apps.core.models import Job
from tests.integration.conftest import broker_key
from tests.reliability.conftest import raw_connection

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
KIND = "catalog.import"  # registered by apps.catalog.apps


def _running_job() -> Job:
    job = job_create(kind=KIND, params={"release": "x", "path": "none", "format": "canonical-csv", "mode": "merge", "filename": ""})
    job_start(job=job)
    return job


def test_running_job_whose_runner_lock_is_free_is_orphaned():
    job = _running_job()
    assert [j.pk for j in jobs_orphaned()] == [job.pk]


def test_running_job_held_by_a_live_worker_is_not_orphaned():
    job = _running_job()
    with raw_connection() as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [JOB_LOCK_CLASS, job.pk])
        assert jobs_orphaned() == []


def test_a_job_runner_refuses_a_job_another_worker_runs():
    job = _running_job()
    with raw_connection() as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [JOB_LOCK_CLASS, job.pk])
        with job_runner(job.pk) as runnable:
            assert runnable is None


def test_recovering_an_orphaned_job_queues_it_again_and_counts_the_requeue(broker):
    import redis

    job = _running_job()
    assert jobs_recover() == [job.pk]
    job.refresh_from_db()
    assert (job.state, job.params["requeued"]) == ("queued", 1)
    assert redis.Redis.from_url(broker).llen(broker_key("bulk")) == 1  # no worker here: the message waits on the bulk queue


def test_a_queued_job_is_resent_only_after_the_grace_period():
    job = job_create(kind=KIND)
    assert jobs_orphaned(queued_grace=600) == []
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=11))
    assert [j.pk for j in jobs_orphaned(queued_grace=600)] == [job.pk]
