"""Schemathesis against /api/schema/: every operation, a bounded number of generated requests,
no 500 anywhere. Hospital paths are called with an API key, the rest as a superuser."""

import datetime as dt

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from apps.catalog.demo import generate_items
from apps.core.services import token_issue
from tests.factories import draft_release, publish
from tests.hospitals.api_helpers import hospital_client

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
HOSPITAL_PATHS = ("/api/v1/catalog/", "/api/v1/hospital", "/api/v1/notices/", "/api/v1/claims/", "/api/v1/webhooks/")


@pytest.fixture
def keep_connection():
    """The raw WSGI app closes the database connection after each request (as in production);
    inside a test transaction that must not happen (Django's test client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(db, keep_connection, catalog_admin, reviewer):
    release = draft_release(label="2025.01", effective_from=dt.date(2025, 1, 1), user=catalog_admin, items=generate_items(10, seed=3))
    publish(release, admin=catalog_admin, reviewer=reviewer)
    _, key, _ = hospital_client()
    root = get_user_model().objects.create_superuser("fuzz-root", "root@example.invalid", "x" * 16)
    return {"key": key, "token": token_issue(user=root)}


@pytest.mark.integration
@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_operation_answers_500(case, credentials):
    hospital = case.path.startswith(HOSPITAL_PATHS)
    auth = f"Api-Key {credentials['key']}" if hospital else f"Token {credentials['token']}"
    response = case.call(headers={"Authorization": auth})
    case.validate_response(response, checks=[not_a_server_error])
