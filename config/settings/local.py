"""Developer / demo settings: SQLite and eager Celery unless DATABASE_URL / CELERY_BROKER_URL are set."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)

# The embedded SQLite database and media files live under var/ (git-ignored).
(BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
