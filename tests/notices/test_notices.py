"""Change notices: the outbox written on publish, seq, pull, ack, affected items, endpoints."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.test import override_settings
from standardwebhooks.webhooks import Webhook

from apps.catalog import services as catalog
from apps.catalog.demo import generate_items
from apps.core.errors import ValidationFailed
from apps.notices import delivery
from apps.notices import services as notices
from apps.notices.models import ChangeNotice, NoticeDelivery, ReleaseAcknowledgement, WebhookEndpoint
from tests.factories import draft_release, publish

from .notice_helpers import hospital, label, principal, release, with_endpoint

pytestmark = pytest.mark.django_db


def test_publish_writes_one_notice_per_active_hospital(catalog_admin, reviewer):
    a, b, gone = hospital(1), hospital(2), hospital(3)
    gone.active = False
    gone.save()
    r = release(1, admin=catalog_admin, reviewer=reviewer)
    assert sorted(ChangeNotice.objects.filter(release=r).values_list("hospital_id", flat=True)) == [a.pk, b.pk]


def test_publish_that_rolls_back_leaves_no_notices(catalog_admin, reviewer):
    hospital(1)
    draft = draft_release(label=label(1), effective_from=dt.date(2026, 2, 1), user=catalog_admin, items=generate_items(3, seed=1))
    catalog.release_submit(release=draft, user=catalog_admin)
    catalog.release_approve(release=draft, user=reviewer)
    with pytest.raises(RuntimeError), transaction.atomic():
        catalog.release_publish(release=draft, user=catalog_admin)
        raise RuntimeError("crash after publish, before commit")
    assert not ChangeNotice.objects.exists()


def test_seq_has_no_gaps_per_hospital_across_publishes(catalog_admin, reviewer):
    early = hospital(1)
    r1 = release(1, admin=catalog_admin, reviewer=reviewer)
    late = hospital(2)
    r2 = release(2, admin=catalog_admin, reviewer=reviewer, based_on=r1)
    release(3, admin=catalog_admin, reviewer=reviewer, based_on=r2)
    assert list(ChangeNotice.objects.filter(hospital=early).order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]
    assert list(ChangeNotice.objects.filter(hospital=late).order_by("seq").values_list("seq", flat=True)) == [1, 2]


def test_outbox_rows_are_immutable_in_the_database(catalog_admin, reviewer):
    hospital(1)
    release(1, admin=catalog_admin, reviewer=reviewer)
    with pytest.raises(Exception, match="immutable"), transaction.atomic():
        ChangeNotice.objects.update(seq=99)


def test_publish_creates_a_delivery_per_active_endpoint(catalog_admin, reviewer):
    a, b = hospital(1), hospital(2)
    with_endpoint(a, "https://his.example.org/hook")
    r = release(1, admin=catalog_admin, reviewer=reviewer)
    deliveries = NoticeDelivery.objects.filter(notice__release=r)
    assert [d.notice.hospital_id for d in deliveries] == [a.pk]
    assert b.pk not in {d.notice.hospital_id for d in deliveries}


def test_pull_returns_only_the_callers_notices_after_seq(catalog_admin, reviewer, api):
    mine, other = hospital(1), hospital(2)
    r1 = release(1, admin=catalog_admin, reviewer=reviewer)
    release(2, admin=catalog_admin, reviewer=reviewer, based_on=r1)
    response = api(principal(mine)).get("/api/v1/notices/?after_seq=1")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(n["seq"], n["hospital"], n["release"]["label"]) for n in results] == [(2, mine.code, label(2))]
    assert other.code not in {n["hospital"] for n in results}


def test_pulled_notice_is_the_webhook_body_plus_delivery_state(catalog_admin, reviewer, api):
    h = hospital(1)
    release(1, admin=catalog_admin, reviewer=reviewer)
    notice = api(principal(h)).get("/api/v1/notices/").json()["results"][0]
    assert notice["type"] == "catalog.release.published"
    assert set(notice["release"]) >= {"label", "effective_from", "sha256", "exports"}
    assert notice["delivery_state"] == "not_sent"


def test_pull_pages_by_seq_with_a_next_link(catalog_admin, reviewer, api):
    h = hospital(1)
    r1 = release(1, admin=catalog_admin, reviewer=reviewer)
    release(2, admin=catalog_admin, reviewer=reviewer, based_on=r1)
    client = api(principal(h))
    first = client.get("/api/v1/notices/?page_size=1").json()
    second = client.get(first["next"]).json()
    assert [n["seq"] for n in first["results"] + second["results"]] == [1, 2]
    assert second["next"] is None


def test_staff_cannot_pull_hospital_notices(catalog_admin, api):
    assert api(catalog_admin).get("/api/v1/notices/").status_code == 403


def test_ack_is_idempotent(catalog_admin, reviewer, api):
    h = hospital(1)
    release(1, admin=catalog_admin, reviewer=reviewer)
    client = api(principal(h))
    first = client.post(
        f"/api/v1/catalog/releases/{label(1)}/ack/", {"loaded_at": "2026-01-05T10:00:00+08:00", "items_count": 5}, format="json"
    )
    again = client.post(f"/api/v1/catalog/releases/{label(1)}/ack/", {"items_count": 7}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["items_count"] == 5
    assert ReleaseAcknowledgement.objects.filter(hospital=h).count() == 1


def test_ack_of_a_draft_release_is_not_found(catalog_admin, api):
    h = hospital(1)
    draft_release(label=label(9), effective_from=dt.date(2026, 9, 1), user=catalog_admin)
    response = api(principal(h)).post(f"/api/v1/catalog/releases/{label(9)}/ack/", {}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "release_unknown")


def test_notice_lists_changed_and_retired_items_the_hospital_used(catalog_admin, reviewer, api):
    h, unaware = hospital(1), hospital(2)
    items = list(generate_items(4, seed=7))
    r1 = release(1, admin=catalog_admin, reviewer=reviewer, items=items)
    changed, retired, untouched = items[0], items[1], items[2]
    notices.item_usage_replace(hospital_id=h.pk, codes=[changed["code"], retired["code"], untouched["code"]])
    draft = draft_release(label=label(2), effective_from=dt.date(2026, 3, 1), user=catalog_admin, based_on=r1)
    catalog.item_put(release=draft, data={**changed, "name": changed["name"] + "（新规格）"}, user=catalog_admin)
    catalog.item_delete(release=draft, code=retired["code"], user=catalog_admin)
    successor = {**retired, "code": retired["code"][:-5] + "99999", "replaces": [retired["code"]]}
    catalog.item_put(release=draft, data=successor, user=catalog_admin)
    publish(draft, admin=catalog_admin, reviewer=reviewer)
    notice = ChangeNotice.objects.get(hospital=h, release__label=label(2))
    by_code = {i["code"]: i for i in notice.affected_items}
    assert set(by_code) == {changed["code"], retired["code"]}
    assert by_code[retired["code"]]["successors"] == [successor["code"]]
    assert by_code[changed["code"]]["change"] == "changed"
    assert ChangeNotice.objects.get(hospital=unaware, release__label=label(2)).affected_items is None


def test_signature_verifies_with_the_standardwebhooks_library(catalog_admin, reviewer):
    h = hospital(1)
    _, secret = with_endpoint(h, "https://his.example.org/hook")
    release(1, admin=catalog_admin, reviewer=reviewer)
    (request,) = delivery.build_requests(list(NoticeDelivery.objects.values_list("id", flat=True)), now=dt.datetime.now(dt.UTC))
    body = Webhook(secret).verify(request.body, request.headers)
    assert (body["seq"], body["hospital"], request.headers["webhook-id"]) == (1, h.code, body["id"])


def test_during_rotation_overlap_old_and_new_secrets_both_verify(catalog_admin, reviewer):
    h = hospital(1)
    endpoint, old = with_endpoint(h, "https://his.example.org/hook")
    new = notices.endpoint_rotate_secret(endpoint=endpoint, overlap_seconds=3600)
    release(1, admin=catalog_admin, reviewer=reviewer)
    (request,) = delivery.build_requests(list(NoticeDelivery.objects.values_list("id", flat=True)), now=dt.datetime.now(dt.UTC))
    Webhook(old).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)


def test_after_rotation_overlap_only_the_new_secret_signs(catalog_admin, reviewer):
    h = hospital(1)
    endpoint, _ = with_endpoint(h, "https://his.example.org/hook")
    notices.endpoint_rotate_secret(endpoint=endpoint, overlap_seconds=0)
    release(1, admin=catalog_admin, reviewer=reviewer)
    (request,) = delivery.build_requests(list(NoticeDelivery.objects.values_list("id", flat=True)), now=dt.datetime.now(dt.UTC))
    assert len(request.headers["webhook-signature"].split(" ")) == 1


def test_plain_http_endpoint_is_refused_unless_loopback():
    h = hospital(1)
    with pytest.raises(ValidationFailed) as refused:
        with_endpoint(h, "http://his.example.org/hook")
    assert refused.value.errors[0]["code"] == "insecure_url"
    assert with_endpoint(h, "http://127.0.0.1:9/hook")[1].startswith("whsec_")


@override_settings(WEBHOOKS_ALLOW_HTTP_LOOPBACK=False)
def test_plain_http_loopback_is_refused_in_production():
    with pytest.raises(ValidationFailed):
        with_endpoint(hospital(1), "http://127.0.0.1:9/hook")


def test_endpoint_secret_is_shown_once_by_the_api(api):
    h = hospital(1)
    client = api(principal(h))
    created = client.post("/api/v1/webhooks/endpoints/", {"url": "https://his.example.org/hook"}, format="json")
    listed = client.get("/api/v1/webhooks/endpoints/").json()["results"]
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    assert "secret" not in listed[0]


def test_hospital_cannot_rotate_another_hospitals_endpoint(api):
    mine, other = hospital(1), hospital(2)
    endpoint, _ = with_endpoint(other, "https://other.example.org/hook")
    assert api(principal(mine)).post(f"/api/v1/webhooks/endpoints/{endpoint.pk}/rotate-secret/").status_code == 404


@override_settings(NOTICE_RETRY_SCHEDULE=(0, 100, 1000), NOTICE_RETRY_JITTER=0.2)
@pytest.mark.parametrize("attempts_made, base", [(1, 100), (2, 1000)])
def test_retry_delays_follow_the_schedule_within_20_percent_jitter(attempts_made, base):
    delays = [delivery.retry_delay(attempts_made=attempts_made) for _ in range(200)]
    assert all(0.8 * base <= d <= 1.2 * base for d in delays if d is not None)
    assert max(delays) - min(delays) > 0.1 * base  # jitter actually spreads them


@override_settings(NOTICE_RETRY_SCHEDULE=(0, 5, 5), NOTICE_RETRY_AFTER_MAX=600)
def test_retry_after_is_honoured_but_clamped():
    assert delivery.retry_delay(attempts_made=1, retry_after=120) == 120
    assert delivery.retry_delay(attempts_made=1, retry_after=10**9) == 600


@override_settings(NOTICE_RETRY_SCHEDULE=(0, 5))
def test_no_retry_after_the_schedule_is_exhausted():
    assert delivery.retry_delay(attempts_made=2) is None


def test_register_hospital_with_webhook_url_prints_the_secret_once(capsys):
    from django.core.management import call_command

    call_command("register_hospital", "H31010100009", name="医院", province="310000", webhook_url="https://his.example.org/hook")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("whsec_")


def test_admin_add_of_an_endpoint_the_service_refuses_shows_the_reason_and_writes_nothing(admin_client):
    h = hospital(1)
    response = admin_client.post(
        "/admin/notices/webhookendpoint/add/", {"hospital": h.pk, "url": "http://his.example.org/hook", "event_types": "[]"}, follow=True
    )
    assert response.status_code == 200
    shown = [(str(m), m.tags) for m in response.context["messages"]]
    assert any("仅在非生产环境中用于本机地址" in m and "code-validation_error" in tags for m, tags in shown), shown
    assert not WebhookEndpoint.objects.filter(hospital=h).exists()


def test_the_outbox_tables_and_their_trigger_belong_to_the_notices_app():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'notices_changenotice'::regclass AND NOT tgisinternal")
        triggers = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'hospitals\\_%%' AND tablename ~ '(notice|webhook|delivery|ack|itemusage)'"
        )
        leftovers = cursor.fetchone()[0]
    # Besides the immutability guard, the outbox keys' triggers (fk_notices_changenotice_*; migration 0006).
    assert ("notices_change_notice_immutable" in triggers, all("notices_" in name for name in triggers), leftovers) == (True, True, 0)
