"""The Celery app, and how its workers use their database connections.

A worker keeps its connection from one task to the next: Celery's Django fix-up would close it
after every task (a task of 500 notices then paid for a new PostgreSQL backend, whose caches
start cold, on every batch). Between tasks the connection is treated as Django treats one
between requests (closed when older than WORKER_DB_CONN_MAX_AGE, after an error that left it
unusable, or with a transaction left open; health-checked before the next task uses it), and
what a task left in its session (a session advisory lock, temporary tables) is dropped, as the
web pool does (config.dbpool). Tasks run eagerly in the caller's process are left alone.
"""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _keep_database_connections(**kwargs: Any) -> None:
    # In the worker's main process before its pool starts: prefork children inherit it.
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        config = connections.settings[alias]
        if not config.get("OPTIONS", {}).get("pool"):  # a pool keeps its connections itself
            config["CONN_MAX_AGE"] = settings.WORKER_DB_CONN_MAX_AGE
        config["CONN_HEALTH_CHECKS"] = True


def _in_worker(task: Any) -> bool:
    return task is not None and not getattr(task.request, "is_eager", False)


@task_prerun.connect
def _before_task(task: Any = None, **kwargs: Any) -> None:
    if _in_worker(task):
        from django.db import close_old_connections

        close_old_connections()


@task_postrun.connect
def _after_task(task: Any = None, **kwargs: Any) -> None:
    if _in_worker(task):
        from django.db import close_old_connections, connections

        from config.dbpool import forget_session

        # The reset first, on the connection the task used (close_old_connections would make
        # its cursor health-check the connection first: one more round trip per task).
        for connection in connections.all(initialized_only=True):
            forget_session(connection)
        close_old_connections()
