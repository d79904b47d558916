"""Developer / demo settings: the embedded PostgreSQL of ``make run`` (``config/embedded_db.py``)
and eager Celery, unless DATABASE_URL / CELERY_BROKER_URL are set."""

import os

from config.embedded_db import database_url

if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = database_url()

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)

# Media files (and the embedded database's data) live under var/ (git-ignored).
(BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
# Receivers on this machine (the demo's, the tests' HTTP receiver) are loopback.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
