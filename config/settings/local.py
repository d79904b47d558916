"""Developer / demo settings: SQLite and eager Celery unless DATABASE_URL / CELERY_BROKER_URL are set."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)

# The embedded SQLite database and media files live under var/ (git-ignored).
(BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
# Receivers on this machine (the demo's, the tests' HTTP receiver) are loopback.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
