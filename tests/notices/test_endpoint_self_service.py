"""Webhook self-service (API.md "Hospitals"): list, read, change, delete, rotate (optionally
retiring the old secret now) and test a hospital's own endpoints, on real API keys; the
endpoint limit and the replay cap (issue 15)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.notices import delivery
from apps.notices.models import NoticeDelivery, WebhookEndpoint
from tests.hospitals.api_helpers import hospital, issue_key, key_client
from tests.integration.receiver import Receiver

from .notice_helpers import release

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhooks/endpoints/"


@pytest.fixture
def mine() -> tuple[Any, Any]:
    h = hospital("H31010100001", "310000")
    return h, key_client(issue_key(h))


@pytest.fixture
def theirs() -> tuple[Any, Any]:
    h = hospital("H31010100002", "310000")
    return h, key_client(issue_key(h))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _create(client: Any, url: str = "https://his.example.org/hook", **extra: Any) -> dict[str, Any]:
    response = client.post(ENDPOINTS, {"url": url, **extra}, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def test_the_list_is_the_envelope_with_absolute_urls(mine):
    _, client = mine
    created = _create(client)
    body = client.get(ENDPOINTS).json()
    assert set(body) == {"next", "results"}
    assert [r["detail_url"] for r in body["results"]] == [f"http://testserver{ENDPOINTS}{created['id']}/"]


def test_a_hospital_reads_its_own_endpoint_without_the_secret(mine):
    _, client = mine
    created = _create(client)
    body = client.get(f"{ENDPOINTS}{created['id']}/").json()
    assert (body["url"], "secret" in body) == ("https://his.example.org/hook", False)


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_hospitals_endpoint_is_not_found(mine, theirs, method):
    _, client = mine
    other = _create(theirs[1])
    response = getattr(client, method)(f"{ENDPOINTS}{other['id']}/", {}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_another_hospitals_endpoint_cannot_be_tested(mine, theirs):
    other = _create(theirs[1])
    assert mine[1].post(f"{ENDPOINTS}{other['id']}/test/").status_code == 404


def test_patch_changes_url_and_event_types_and_records_who_and_why(mine):
    _, client = mine
    created = _create(client)
    response = client.patch(
        f"{ENDPOINTS}{created['id']}/",
        {"url": "https://his2.example.org/hook", "event_types": ["catalog.release.published"]},
        format="json",
    )
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert response.status_code == 200
    assert (endpoint.url, endpoint.event_types) == ("https://his2.example.org/hook", ["catalog.release.published"])
    assert endpoint.history.first().history_change_reason == "changed: url, event types"


def test_patch_with_an_unknown_field_is_refused(mine):
    _, client = mine
    created = _create(client)
    response = client.patch(f"{ENDPOINTS}{created['id']}/", {"secret": "whsec_mine"}, format="json")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "secret")


def test_patch_active_false_disables_it_and_fails_its_pending_deliveries(mine, catalog_admin, reviewer):
    _, client = mine
    created = _create(client)
    release(1, admin=catalog_admin, reviewer=reviewer)
    client.patch(f"{ENDPOINTS}{created['id']}/", {"active": False}, format="json")
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert (endpoint.active, endpoint.disabled_reason) == (False, "disabled by the hospital")
    assert list(NoticeDelivery.objects.values_list("state", "last_error_code")) == [("failed", "endpoint_disabled")]


def test_patch_active_true_enables_a_disabled_endpoint(mine):
    _, client = mine
    created = _create(client)
    client.patch(f"{ENDPOINTS}{created['id']}/", {"active": False}, format="json")
    body = client.patch(f"{ENDPOINTS}{created['id']}/", {"active": True}, format="json").json()
    assert (body["active"], body["disabled_reason"]) == (True, "")


def test_delete_removes_it_for_the_hospital_but_keeps_the_record(mine, catalog_admin, reviewer):
    _, client = mine
    created = _create(client)
    release(1, admin=catalog_admin, reviewer=reviewer)
    response = client.delete(f"{ENDPOINTS}{created['id']}/")
    assert response.status_code == 204
    assert client.get(f"{ENDPOINTS}{created['id']}/").status_code == 404
    assert client.get(ENDPOINTS).json()["results"] == []
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert (endpoint.active, endpoint.deleted_at is not None, NoticeDelivery.objects.get().state) == (False, True, "failed")
    assert endpoint.history.first().history_change_reason == "endpoint deleted"


def test_a_deleted_endpoint_gets_no_notice_of_a_later_publish(mine, catalog_admin, reviewer):
    _, client = mine
    created = _create(client)
    client.delete(f"{ENDPOINTS}{created['id']}/")
    release(1, admin=catalog_admin, reviewer=reviewer)
    assert not NoticeDelivery.objects.exists()


@override_settings(WEBHOOK_MAX_ENDPOINTS_PER_HOSPITAL=2)
def test_an_endpoint_over_the_limit_is_refused_with_409(mine):
    _, client = mine
    _create(client)
    _create(client)
    response = client.post(ENDPOINTS, {"url": "https://his3.example.org/hook"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "webhook_endpoint_limit")
    assert WebhookEndpoint.objects.count() == 2


@override_settings(WEBHOOK_MAX_ENDPOINTS_PER_HOSPITAL=1)
def test_a_deleted_endpoint_frees_its_place(mine):
    _, client = mine
    first = _create(client)
    client.delete(f"{ENDPOINTS}{first['id']}/")
    assert client.post(ENDPOINTS, {"url": "https://his3.example.org/hook"}, format="json").status_code == 201


def test_the_default_limit_is_five_endpoints(mine):
    _, client = mine
    for n in range(5):
        _create(client, f"https://his{n}.example.org/hook")
    assert client.post(ENDPOINTS, {"url": "https://his9.example.org/hook"}, format="json").status_code == 409


def _signatures(endpoint_id: int, catalog_admin: Any, reviewer: Any) -> list[str]:
    release(1, admin=catalog_admin, reviewer=reviewer)
    (request,) = delivery.build_requests(
        list(NoticeDelivery.objects.filter(endpoint_id=endpoint_id).values_list("id", flat=True)), now=timezone.now()
    )
    return list(request.headers["webhook-signature"].split(" "))


def test_rotate_keeps_the_old_secret_signing_during_the_overlap(mine, catalog_admin, reviewer):
    _, client = mine
    created = _create(client)
    rotated = client.post(f"{ENDPOINTS}{created['id']}/rotate-secret/", {}, format="json").json()
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_expires_at"] is not None
    assert len(_signatures(created["id"], catalog_admin, reviewer)) == 2


def test_rotate_with_retire_old_now_stops_the_old_secret_at_once(mine, catalog_admin, reviewer):
    _, client = mine
    created = _create(client)
    rotated = client.post(f"{ENDPOINTS}{created['id']}/rotate-secret/", {"retire_old_now": True}, format="json").json()
    release(1, admin=catalog_admin, reviewer=reviewer)
    (request,) = delivery.build_requests(list(NoticeDelivery.objects.values_list("id", flat=True)), now=timezone.now())
    Webhook(rotated["secret"]).verify(request.body, request.headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(created["secret"]).verify(request.body, request.headers)


def test_rotate_with_retire_old_now_also_retires_a_secret_still_in_its_overlap(mine, catalog_admin, reviewer):
    _, client = mine
    created = _create(client)
    client.post(f"{ENDPOINTS}{created['id']}/rotate-secret/", {}, format="json")
    client.post(f"{ENDPOINTS}{created['id']}/rotate-secret/", {"retire_old_now": True}, format="json")
    assert len(_signatures(created["id"], catalog_admin, reviewer)) == 1


def test_test_ping_is_a_signed_test_ping_through_the_real_transport(mine, receiver):
    h, client = mine
    created = _create(client, receiver.url("ping"))
    receiver.expect("ping", created["secret"])
    response = client.post(f"{ENDPOINTS}{created['id']}/test/")
    body = response.json()
    (arrived,) = receiver.for_path("ping")
    assert (response.status_code, body["delivered"], body["status"], body["error"]) == (200, True, 200, None)
    assert (arrived.verified, arrived.body["type"], arrived.body["hospital"], arrived.webhook_id) == (
        True,
        "test.ping",
        h.code,
        body["webhook_id"],
    )


def test_test_ping_writes_no_notice_and_no_delivery(mine, receiver):
    _, client = mine
    created = _create(client, receiver.url("ping"))
    receiver.expect("ping", created["secret"])
    client.post(f"{ENDPOINTS}{created['id']}/test/")
    assert not NoticeDelivery.objects.exists()


def test_test_ping_to_a_closed_port_answers_connection_failed_without_transport_text(mine):
    _, client = mine
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    created = _create(client, url)
    response = client.post(f"{ENDPOINTS}{created['id']}/test/")
    assert (response.json()["delivered"], response.json()["error"]) == (False, "connection_failed")
    assert "curl" not in response.content.decode() and "refused" not in response.content.decode().lower()


def test_test_ping_answer_other_than_2xx_is_http_status(mine, receiver):
    _, client = mine
    created = _create(client, receiver.url("ping"))
    receiver.expect("ping", created["secret"])
    receiver.script("ping", 503)
    assert client.post(f"{ENDPOINTS}{created['id']}/test/").json()["error"] == "http_503"


def test_test_ping_repeats_the_address_check(mine, receiver):
    _, client = mine
    created = _create(client, receiver.url("ping"))
    with override_settings(WEBHOOK_ALLOWED_NETWORKS=[]):
        body = client.post(f"{ENDPOINTS}{created['id']}/test/").json()
    assert (body["error"], receiver.received) == ("connection_failed", [])


def test_a_replay_of_more_than_1000_ids_is_refused(mine):
    _, client = mine
    response = client.post("/api/v1/notices/deliveries/replay/", {"ids": list(range(1, 1002))}, format="json")
    assert (response.status_code, response.json()["code"], response.json()["errors"][0]["field"]) == (400, "validation_error", "ids")


def test_a_replay_of_1000_ids_is_accepted(mine):
    _, client = mine
    assert client.post("/api/v1/notices/deliveries/replay/", {"ids": list(range(1, 1001))}, format="json").status_code == 202


def test_the_replay_service_refuses_more_than_1000_ids_whoever_calls(catalog_admin):
    from apps.core.errors import ValidationFailed
    from apps.notices import services

    with pytest.raises(ValidationFailed) as refused:
        services.deliveries_replay(delivery_ids=range(1, 1002), user=catalog_admin)
    assert refused.value.errors[0]["code"] == "too_many_ids"


@pytest.mark.parametrize("method", ["post", "patch", "rotate", "delete"])
def test_each_self_service_change_is_audited_as_the_hospital_that_made_it(mine, method):
    from apps.core.models import AuditEvent

    h, client = mine
    created = _create(client)
    url = f"{ENDPOINTS}{created['id']}/"
    if method == "patch":
        client.patch(url, {"url": "https://his.example.org/other"}, format="json")
    elif method == "rotate":
        client.post(f"{url}rotate-secret/", {}, format="json")
    elif method == "delete":
        client.delete(url)
    expected = {
        "post": "endpoint.registered",
        "patch": "endpoint.changed",
        "rotate": "endpoint.secret_rotated",
        "delete": "endpoint.deleted",
    }
    last = AuditEvent.objects.order_by("-id").values_list("action", "actor_label").first()
    assert last == (expected[method], f"hospital {h.code}")


def test_a_blank_item_usage_code_is_refused_and_nothing_is_replaced(mine):
    from apps.notices.models import ItemUsage

    h, client = mine
    assert client.put("/api/v1/notices/item-usage/", {"codes": ["XA01ABD075A002010100483"]}, format="json").status_code == 200
    response = client.put("/api/v1/notices/item-usage/", {"codes": ["XB02", ""]}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert list(ItemUsage.objects.filter(hospital=h).values_list("code", flat=True)) == ["XA01ABD075A002010100483"]
