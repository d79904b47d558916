"""Test settings: the real PostgreSQL and Redis of this machine unless the environment says otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/portal")

from .base import *  # noqa: F403
from .base import env

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Under pytest-xdist each worker (gw0, gw1, ...) has its own test database (pytest-django adds the
# suffix), its own media folder below, and its own Celery keys in the shared Redis database: the
# workers that integration tests start are handed the same prefix (tests/integration/conftest.py).
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
CELERY_KEY_PREFIX = f"{XDIST_WORKER}:" if XDIST_WORKER else ""
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": CELERY_KEY_PREFIX}  # noqa: F405
# Unit tests run tasks eagerly; integration tests start a real worker against REDIS_URL.
CELERY_BROKER_URL = ""
if "replica" in DATABASES:  # noqa: F405  (a process a test started against a real replica: never a test database of its own)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}  # noqa: F405
CELERY_TASK_ALWAYS_EAGER = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# One media folder per database, so suites run side by side (one per DATABASE_URL) never
# overwrite each other's export files; workers started by tests are handed this path.
MEDIA_ROOT = BASE_DIR / "var" / "test-media" / DATABASES["default"]["NAME"] / (XDIST_WORKER or "main")  # noqa: F405
# API-key verdicts in the real Redis, as in production: a web process started by a test (and
# the test itself) share them, so revocation is proved across processes. (Keys are named by
# random key prefixes, so suites sharing one Redis database do not meet.)
CACHES["api_keys"] = {"BACKEND": "apps.core.cache.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "api-keys"}  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns when it is missing)
# Receivers on this machine (the demo's, the tests' HTTP receiver) are loopback.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
