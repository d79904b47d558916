"""Settings shared by every environment. Values that differ per machine come from the environment."""

import datetime as dt
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from config.dbpool import reset_session

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-dev-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "apps.core.admin_apps.PortalAdminConfig",  # django.contrib.admin with the portal's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # staff API tokens: hashed, expiring (core.StaffToken is its token model)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files, never a CDN
    "simple_history",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "apps.core",
    "apps.catalog",
    "apps.benefits",
    "apps.hospitals",
    "apps.notices",
    "apps.pooling",
    "apps.reconciliation",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.uploads.UploadTooLargeMiddleware",  # before anything reads a multipart body
    "apps.core.middleware.RefuseNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into its response
]

ROOT_URLCONF = "config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]
WSGI_APPLICATION = "config.wsgi.application"

# PostgreSQL only (the rules are SQL: triggers, exclusion constraints, COPY). Each settings
# module says where DATABASE_URL comes from when it is unset; this one has no default.
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))


def pooled_and_replicated(databases: dict[str, Any]) -> dict[str, Any]:
    """``DB_POOL_MAX_SIZE`` > 0: every connection of this process comes from a psycopg pool of
    that size (web processes: gunicorn's threads share it; a request holds one connection from
    its first query to its end, so COPY, advisory locks and server-side cursors work as before,
    and config.dbpool resets the session before the next request gets it). With
    ``DATABASE_REPLICA_URL``, the hospital catalog API reads from that streaming replica
    (apps.core.replica); it is never migrated."""
    replica_url = env("DATABASE_REPLICA_URL", default="")
    if replica_url:
        databases["replica"] = {
            **env.db_url_config(replica_url),
            "ATOMIC_REQUESTS": False,
            "CONN_MAX_AGE": databases["default"]["CONN_MAX_AGE"],
        }
    pool_max = env.int("DB_POOL_MAX_SIZE", default=0)
    if pool_max > 0:
        pool = {
            "min_size": min(env.int("DB_POOL_MIN_SIZE", default=1), pool_max),
            "max_size": pool_max,
            "timeout": env.float("DB_POOL_TIMEOUT", default=30.0),  # seconds a request waits for a connection
            "reset": reset_session,
        }
        for db in databases.values():
            db["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not
            db.setdefault("OPTIONS", {})["pool"] = dict(pool)
    # Statements the code prepares on purpose (apps.core.prepared: the claim pre-check, search)
    # are prepared because their text fixes their plan, so PostgreSQL runs their generic plan from
    # the first execution instead of planning each of the first five and comparing (search's
    # page statement: PostgreSQL CPU per search about halved here). plan_cache_mode applies to
    # named prepared statements and to the statements PL/pgSQL functions and triggers cache (the
    # ledger's posting function, the guards: lookups by key, where the generic plan is the
    # custom one); the queries Django sends are not prepared (psycopg's automatic preparation
    # stays off) and are planned per execution. PREPARED_STATEMENTS=False behind a pooler that
    # keeps no prepared statements.
    prepared_statements = env.bool("PREPARED_STATEMENTS", default=True)
    for db in databases.values():
        options = db.setdefault("OPTIONS", {})
        if prepared_statements:
            options["options"] = f"{options.get('options', '')} -c plan_cache_mode=force_generic_plan".strip()
        give_up_on_a_silent_server(options)
    return databases


def give_up_on_a_silent_server(options: dict[str, Any]) -> None:
    """A server that stops answering (a network partition drops packets without a reset) must
    not hold a process for ever: connecting gives up after ``DB_CONNECT_TIMEOUT`` seconds, and a
    TCP connection that hears nothing is probed after ``DB_KEEPALIVES_IDLE`` seconds and dropped
    about 30 s later, and one whose sent statement stays unacknowledged for 60 s
    (``tcp_user_timeout``: keepalives do not probe while data waits for its acknowledgement, and
    the kernel would retransmit for about 15 minutes) is dropped too. So a worker's between-task
    reset (config.celery) or a request fails and the next one connects again instead of waiting
    on a dead socket. A long query is not cut: the statement is acknowledged at once and the
    server's kernel answers the probes while it runs. A URL's own options
    (``?connect_timeout=…``) win; all but the connect timeout apply to TCP only."""
    options.setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=10))
    options.setdefault("keepalives", 1)
    options.setdefault("keepalives_idle", env.int("DB_KEEPALIVES_IDLE", default=30))
    options.setdefault("keepalives_interval", 10)
    options.setdefault("keepalives_count", 3)
    options.setdefault("tcp_user_timeout", 60_000)  # milliseconds


DATABASES = pooled_and_replicated(DATABASES)
PREPARED_STATEMENTS = env.bool("PREPARED_STATEMENTS", default=True)  # apps.core.prepared
DATABASE_ROUTERS = ["apps.core.replica.ReplicaRouter"]
# Optional: `manage.py migrate` connects as the owner of the tables with these credentials while
# web and workers use DATABASE_URL, a role that owns nothing (README "Database roles").
MIGRATE_DATABASE_URL = env("MIGRATE_DATABASE_URL", default="")
if MIGRATE_DATABASE_URL and env.db_url_config(MIGRATE_DATABASE_URL)["NAME"] != DATABASES["default"]["NAME"]:
    raise ImproperlyConfigured("MIGRATE_DATABASE_URL names another database than DATABASE_URL: give both the same database")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env("DJANGO_LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"

# Uploads (catalog and settlement imports, any file form): refused above IMPORT_MAX_BYTES while
# the body streams in, before anything is stored (apps/core/uploads.py); 413 request_too_large.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=256 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "apps.core.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Spreadsheet and JSON imports: bounds that hold before openpyxl / the JSON parser do any work.
XLSX_MAX_ROWS = env.int("XLSX_MAX_ROWS", default=1_000_000)
XLSX_MAX_COLUMNS = env.int("XLSX_MAX_COLUMNS", default=64)
XLSX_MAX_UNCOMPRESSED_BYTES = env.int("XLSX_MAX_UNCOMPRESSED_BYTES", default=1024 * 1024 * 1024)
IMPORT_JSON_MAX_DEPTH = env.int("IMPORT_JSON_MAX_DEPTH", default=32)

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_COOKIE_HTTPONLY = True
# Messages (which carry one-time secrets: a new API key, a webhook signing secret) are kept in
# the server-side session, never in the signed-but-readable messages cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Login security: django-axes locks a username+IP pair after repeated failures (a lockout answers
# 429 until the cool-off ends or `manage.py axes_reset_username NAME`); a finance checker who
# enrolled a TOTP device must also enter its code (apps/core/admin_site.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before the password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False  # no log line for every successful login
# Behind N reverse proxies (the load balancer is one) the client's address is read from
# X-Forwarded-For, counting N entries from the right (apps/core/clientip.py, django-ipware); with
# 0 the header is ignored, so a forged one changes nothing. Lockouts key on that address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "apps.core.clientip.client_ip"
AXES_LOCKOUT_CALLABLE = "apps.core.clientip.lockout_response"  # the API's envelope under /api/
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Catalog portal")
# Reverting from a history page would save workflow fields around the services: view only.
SIMPLE_HISTORY_REVERT_DISABLED = True
# Reasons are part of the record: never cut to 100 characters.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Staff API tokens (django-rest-knox): stored as SHA-512 digests, valid for STAFF_TOKEN_TTL,
# revoked by DELETE /api/v1/auth/token/. The header keeps DRF's keyword: "Authorization: Token …".
STAFF_TOKEN_TTL = dt.timedelta(days=env.float("STAFF_TOKEN_TTL_DAYS", default=30))
KNOX_TOKEN_MODEL = "core.StaffToken"
# knox's own migrations would create its unused (swapped-out) table, which references auth_user
# and so blocks TRUNCATE of users; without migrations Django creates no table for a swapped model.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_MODEL": KNOX_TOKEN_MODEL,
    "TOKEN_TTL": STAFF_TOKEN_TTL,
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,  # a token ends STAFF_TOKEN_TTL after it was issued, however busy
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.hospitals.api.auth.ApiKeyAuthentication",  # first: its WWW-Authenticate makes auth failures 401
        "rest_framework.authentication.SessionAuthentication",
        "apps.core.api.auth.StaffTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.api.parsers.JSONParser",  # deeply nested JSON is a 400, not a RecursionError
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["apps.hospitals.api.auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("API_KEY_THROTTLE_RATE", default="1200/min")},
    "DEFAULT_SCHEMA_CLASS": "apps.core.api.schema.PortalAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.CodeCursorPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "apps.core.api.errors.exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "National catalog governance portal API",
    "DESCRIPTION": (
        "Catalog releases, look-ups, pre-checks, notices, pooling and reconciliation.\n\n"
        "Every error answers one envelope, `Error`: `{code, detail, errors}` with a stable `code`. "
        "Lists answer `{next, results}`: follow `next` (absolute URL, null on the last page); "
        "`page_size` is 1 to 1000. Query parameters an operation does not document are ignored; "
        "the documented ones are validated (400 `validation_error` naming the parameter). "
        "Hospitals authenticate with `Authorization: Api-Key <key>`, staff with `Authorization: Token <token>` "
        "(or the admin session); each operation lists the ones it accepts."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Hospital intranets have no internet: the docs pages load their scripts, styles and icon from
    # our own static files (drf-spectacular-sidecar), and Swagger UI asks no online validator.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Several models have a "kind"; name each enum so the schema (and check --deploy) is stable.
    "ENUM_NAME_OVERRIDES": {
        "ItemKindEnum": "apps.catalog.models.ItemKind",
        "FundAccountKindEnum": "apps.pooling.models.FundAccount.Kind",
        "DiscrepancyKindEnum": "apps.reconciliation.models.Discrepancy.Kind",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "apps.core.api.schema.postprocess_paths"],
}

# Celery: without a broker URL tasks run in-process (the zero-setup demo).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers keep their database connection between tasks (config.celery): Celery's Django fix-up
# closes it after every task unless told to reuse it (it would close it every this many tasks).
CELERY_DB_REUSE_MAX = 1_000_000
WORKER_DB_CONN_MAX_AGE = env.int("WORKER_DB_CONN_MAX_AGE", default=600)
# Longer than the longest task (a 500k-row import or a month close), so Redis does not
# hand a running task to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=6 * 3600),
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "retry_on_timeout": True,
    "health_check_interval": 10,
    # Prepended to every key Celery uses in Redis (queues, unacked messages, bindings), so that
    # deployments, or parallel test workers, sharing one Redis database keep their messages apart.
    "global_keyprefix": env("CELERY_KEY_PREFIX", default=""),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Three queues, each with workers of its own (Procfile): a month close or a 500k-row import on
# "bulk" never holds up a notice on "notices"; everything else (sweeps, follow-ups, email) is
# "default". A worker started without -Q consumes only "default": run one per queue, or
# `-Q default,notices,bulk` on a single machine (make worker).
CELERY_TASK_DEFAULT_QUEUE = "default"
WORKER_QUEUES = ("default", "notices", "bulk")
CELERY_TASK_ROUTES = {
    "notices.*": {"queue": "notices"},
    "core.run_job": {"queue": "bulk"},  # imports, reconciliation runs, risk adjustment: the job pipeline
    "catalog.search_index": {"queue": "bulk"},
    "catalog.items_finish": {"queue": "bulk"},
    "catalog.items_finish_due": {"queue": "bulk"},
    "catalog.search_index_due": {"queue": "bulk"},
    "hospitals.recheck_mappings": {"queue": "bulk"},
}
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Notice retries further out than NOTICE_CHAIN_WINDOW, and leases of killed workers, are swept here.
CELERY_BEAT_SCHEDULE = {
    "notices-deliver-due": {"task": "notices.deliver_due", "schedule": env.float("NOTICE_SWEEP_SECONDS", default=30.0)},
    "core-jobs-recover": {"task": "core.jobs_recover", "schedule": 60.0},  # jobs of killed workers
    "core-send-due-email": {"task": "core.send_due_email", "schedule": 60.0},  # retries of the email outbox
    "catalog-search-index-due": {"task": "catalog.search_index_due", "schedule": 300.0},  # a lost search-index task
    # a lost draft-finishing task; a sweep the bulk worker has not started within its period is dropped, not piled up
    "catalog-items-finish-due": {"task": "catalog.items_finish_due", "schedule": 300.0, "options": {"expire_seconds": 300}},
}

# Webhooks (apps.notices): addresses a webhook may reach although not public (CIDR list; API.md
# "Controls"); local and test settings allow loopback, production nothing unless set here.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
WEBHOOK_MAX_ENDPOINTS_PER_HOSPITAL = env.int("WEBHOOK_MAX_ENDPOINTS_PER_HOSPITAL", default=5)

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# Django's Redis backend with one redis client per connection pool instead of one per cache call
# (apps/core/cache.py: 0.17 ms of CPU per call, three or four calls per API request).
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "apps.core.cache.RedisCache"
# Hospital API-key verdicts (apps.hospitals): a revoked key or a deactivated hospital must be
# refused on the next request in every web process, so they are cached only in a cache all
# processes share (CACHE_URL=redis://…), where revocation marks them stale; with a per-process
# cache they are not cached at all (one indexed query per request). Production refuses to start
# with a per-process cache (config/settings/production.py).
PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.filebased.FileBasedCache")
CACHES["api_keys"] = (
    {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    if CACHES["default"]["BACKEND"] in PER_PROCESS_CACHES
    else {**CACHES["default"], "KEY_PREFIX": "api-keys"}
)

# Email to staff and hospital contacts (apps/core/mail.py): SMTP from EMAIL_URL, e.g.
# smtp+tls://user:password@smtp.example.org:587; the console backend prints mail when unset.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)  # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, ... (django-environ's documented idiom)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="catalog-portal@localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# Codes that are configuration, not law (see DOMAIN.md: XPCC has its own pooling unit).
XPCC_PROVINCE_CODE = env("XPCC_PROVINCE_CODE", default="660000")

# Provincial pooling (apps.pooling): the share of a year's cross-regional budget at which the
# budget alert is emailed, when a budget does not set its own (0.9 = at 90 %).
POOLING_BUDGET_ALERT_RATIO = env("POOLING_BUDGET_ALERT_RATIO", default="0.9")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs every layout step of every PDF at INFO; its warnings (a missing font) stay.
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}
