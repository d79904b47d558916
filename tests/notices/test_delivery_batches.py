"""Per-batch cost of notice delivery: one statement leases and reads a batch, batches share the
process's keep-alive HTTP client, and recording is set-based (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.notices import delivery, transport
from apps.notices.models import DeliveryAttempt, NoticeDelivery, WebhookEndpoint

from .notice_helpers import hospital, release, with_endpoint

pytestmark = pytest.mark.django_db


class _Peers:
    """A keep-alive HTTP/1.1 receiver that remembers the client port of every request."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        peers = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                peers.ports.append(self.client_address[1])
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/{path}"


@pytest.fixture
def peers() -> Iterator[_Peers]:
    p = _Peers()
    yield p
    p.server.shutdown()
    p.server.server_close()


def _pending(receiver: _Peers, n: int, catalog_admin: Any, reviewer: Any) -> list[int]:
    for i in range(1, n + 1):
        with_endpoint(hospital(i), receiver.url(f"hook/{i}"))
    release(1, admin=catalog_admin, reviewer=reviewer)  # delivery is queued on commit, which a test never reaches
    return list(NoticeDelivery.objects.order_by("id").values_list("id", flat=True))


def test_consecutive_batches_reuse_one_keep_alive_connection(peers, catalog_admin, reviewer):
    first, second = _pending(peers, 2, catalog_admin, reviewer)
    assert delivery.deliver([first])["delivered"] == 1
    assert delivery.deliver([second])["delivered"] == 1
    assert len(peers.ports) == 2
    assert peers.ports[0] == peers.ports[1], "the second batch opened a new connection"


def test_claiming_a_batch_is_one_statement_and_takes_the_lease(peers, catalog_admin, reviewer):
    ids = _pending(peers, 3, catalog_admin, reviewer)
    now = timezone.now()
    with CaptureQueriesContext(connection) as captured:
        requests = delivery.claim_requests(ids, now=now)
    statements = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith(("WITH", "SELECT", "UPDATE"))]
    assert len(statements) == 3  # the lease+read, the release payload, the hospitals' mapping issues
    assert [r.delivery_id for r in requests] == ids
    assert all(d.lease_until and d.lease_until > now for d in NoticeDelivery.objects.all())


def test_claim_skips_a_delivery_another_worker_holds(peers, catalog_admin, reviewer):
    held, free = _pending(peers, 2, catalog_admin, reviewer)
    NoticeDelivery.objects.filter(pk=held).update(lease_until=timezone.now() + dt.timedelta(minutes=5))
    assert [r.delivery_id for r in delivery.claim_requests(None, now=timezone.now())] == [free]


def test_claim_skips_a_delivery_not_yet_due(peers, catalog_admin, reviewer):
    later, due = _pending(peers, 2, catalog_admin, reviewer)
    NoticeDelivery.objects.filter(pk=later).update(next_attempt_at=timezone.now() + dt.timedelta(minutes=5))
    assert [r.delivery_id for r in delivery.claim_requests([later, due], now=timezone.now())] == [due]


def test_a_claimed_request_is_the_signed_request_build_requests_makes(peers, catalog_admin, reviewer):
    ids = _pending(peers, 2, catalog_admin, reviewer)
    now = timezone.now()
    built = delivery.build_requests(ids, now=now)
    claimed = delivery.claim_requests(ids, now=now)
    assert [(r.url, r.headers, r.body) for r in claimed] == [(r.url, r.headers, r.body) for r in built]


def test_a_delivery_settled_while_in_flight_is_not_recorded_again(peers, catalog_admin, reviewer):
    settled, open_ = _pending(peers, 2, catalog_admin, reviewer)
    now = timezone.now()
    requests = delivery.claim_requests(None, now=now)
    outcomes = transport.send(requests, concurrency=4, timeout=5)
    NoticeDelivery.objects.filter(pk=settled).update(state="failed", failed_at=now, last_error="endpoint disabled: test")
    summary = delivery.record(outcomes, now=timezone.now())
    assert summary["delivered"] == 1
    assert list(DeliveryAttempt.objects.values_list("delivery_id", flat=True)) == [open_]
    assert NoticeDelivery.objects.get(pk=settled).state == "failed"
    assert NoticeDelivery.objects.get(pk=open_).lease_until is None


def test_an_endpoint_that_answers_is_no_longer_failing_and_one_that_was_not_sent_to_still_is(peers, catalog_admin, reviewer):
    answered, not_sent = _pending(peers, 2, catalog_admin, reviewer)
    since = timezone.now() - dt.timedelta(days=1)
    endpoints = dict(NoticeDelivery.objects.values_list("id", "endpoint_id"))
    WebhookEndpoint.objects.filter(pk__in=endpoints.values()).update(failing_since=since)
    assert delivery.deliver([answered])["delivered"] == 1
    failing = dict(WebhookEndpoint.objects.values_list("id", "failing_since"))
    assert (failing[endpoints[answered]], failing[endpoints[not_sent]]) == (None, since)


class _Scripted:
    """A receiver whose answer depends on the path: 503 with Retry-After, a 2 KB body, a slow answer."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path.endswith("/slow"):
                    threading.Event().wait(2)
                status, body, extra = {
                    "/busy": (503, b"busy", {"Retry-After": "120"}),
                    "/long": (200, b"x" * 2000, {}),
                }.get(self.path, (200, b"ok", {}))
                self.send_response(status)
                for name, value in {"content-length": str(len(body)), **extra}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"


def _request(n: int, url: str) -> transport.WebhookRequest:
    return transport.WebhookRequest(n, n, url, {"content-type": "application/json", "webhook-id": f"msg_{n}"}, b"{}")


def test_each_outcome_carries_its_own_status_retry_after_excerpt_or_error():
    receiver = _Scripted()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    try:
        urls = [f"{receiver.base}/busy", f"{receiver.base}/long", f"{receiver.base}/slow", closed, f"{receiver.base}/ok"]
        busy, long_, slow, refused, ok = transport.send([_request(n, u) for n, u in enumerate(urls)], concurrency=2, timeout=0.5)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    assert [o.delivery_id for o in (busy, long_, slow, refused, ok)] == [0, 1, 2, 3, 4]
    assert (busy.status, busy.retry_after, busy.excerpt) == (503, 120.0, "busy")
    assert (long_.status, long_.excerpt) == (200, "x" * 500)
    assert (slow.status, slow.error_code, slow.error[:7]) == (None, "timeout", "timeout")
    assert (refused.status, refused.error_code, refused.error[:12]) == (None, "connection_failed", "curl error 7")
    assert (busy.error_code, ok.status, ok.error, ok.error_code) == ("http_503", 200, "", "")
