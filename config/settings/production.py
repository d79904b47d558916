"""Production: everything secret or machine-specific comes from the environment."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env, pooled_and_replicated

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
# No silent fallbacks in production: no default database, no tasks run inside web requests.
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
DATABASES = pooled_and_replicated(DATABASES)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_TASK_ALWAYS_EAGER = False
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Every web process must see the same cache: throttles share one budget per key, and a revoked
# API key or a deactivated hospital must be refused on the next request in every process.
if CACHES["default"]["BACKEND"] in (*PER_PROCESS_CACHES, "django.core.cache.backends.dummy.DummyCache"):  # noqa: F405
    raise ImproperlyConfigured(
        "CACHE_URL must name a cache shared by every web process (e.g. redis://host:6379/1): "
        "a per-process cache would keep revoked API keys working in the other processes"
    )
