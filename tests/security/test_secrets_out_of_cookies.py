"""One-time secrets (API keys, webhook signing secrets shown once in admin) never travel in a
cookie: messages live in the server-side session. /healthz tells the public only ok or not."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from apps.core.roles import Role
from apps.hospitals import services
from apps.notices.models import WebhookEndpoint
from tests.admin.conftest import VIEWER, login
from tests.factories import staff
from tests.hospitals.api_helpers import hospital_client
from tests.pooling.conftest import ensure_ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def provinces(db):
    ensure_ledger()


KEY = re.compile(r"[A-Za-z0-9]{8,16}\.[A-Za-z0-9_-]{20,}")


def cookie_text(response) -> str:
    return " ".join(f"{c.key}={c.value}" for c in response.cookies.values())


def shown_after(client: Client, response) -> str:
    """The page the redirect leads to, where the message is shown once."""
    return client.get(response["Location"]).content.decode()


def test_an_api_key_issued_in_admin_is_shown_once_and_travels_in_no_cookie(provinces):
    hospital = services.hospital_register(code="H31010100001", name="瑞金医院", province_code=VIEWER)
    client = login(staff(Role.PROVINCE_STAFF, VIEWER))
    response = client.post(reverse("admin:hospitals_hospital_changelist"), {"action": "issue_api_key", "_selected_action": [hospital.pk]})
    page = shown_after(client, response)
    keys = KEY.findall(page)
    assert len(keys) == 1
    assert keys[0] not in cookie_text(response)
    assert "messages" not in response.cookies
    assert keys[0] not in client.get(reverse("admin:hospitals_hospital_changelist")).content.decode()  # once


def test_a_rotated_webhook_secret_travels_in_no_cookie(provinces):
    _h, _raw, hospital_api = hospital_client("H31010100002")
    created = hospital_api.post("/api/v1/webhooks/endpoints/", {"url": "https://127.0.0.1:9/hook"}, format="json")
    assert created.status_code == 201
    endpoint = WebhookEndpoint.objects.get(pk=created.json()["id"])
    client = login(staff(Role.PROVINCE_STAFF, VIEWER))
    response = client.post(
        reverse("admin:notices_webhookendpoint_changelist"), {"action": "rotate_secret", "_selected_action": [endpoint.pk]}
    )
    secrets = re.findall(r"whsec_[A-Za-z0-9+/=]+", shown_after(client, response))
    assert len(secrets) == 1
    assert secrets[0] not in cookie_text(response)
    assert "whsec_" not in cookie_text(response)


def test_messages_are_stored_in_the_session():
    assert settings.MESSAGE_STORAGE == "django.contrib.messages.storage.session.SessionStorage"


# --- /healthz -------------------------------------------------------------------------------


def test_healthz_tells_the_public_only_that_it_is_ok(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_healthz_hides_the_broker_error_from_the_public(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (503, {"ok": False})


def test_healthz_hides_details_from_a_hospital_key(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    _h, raw, _api = hospital_client("H31010100003")
    response = Client().get("/healthz", HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert response.json() == {"ok": False}


def test_healthz_shows_staff_the_details(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = login(staff(Role.AUDITOR, username="health-auditor")).get("/healthz")
    body = response.json()
    assert (response.status_code, body["ok"], body["database"]["ok"], body["broker"]["ok"]) == (503, False, True, False)
    assert body["broker"]["error"]
