"""Issue 15, first bullet: a webhook URL may not reach the portal's own networks. Every leaked case
is refused at registration (API with a real key, register_hospital, admin) under production's
WEBHOOK_ALLOWED_NETWORKS (none), refused again at send time, and the connection goes only to
the checked address; hospitals see coarse errors, staff the detail."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from apps.hospitals.models import Hospital
from apps.notices import addresses, delivery, transport
from apps.notices.models import DeliveryAttempt, NoticeDelivery, WebhookEndpoint
from apps.notices.services import new_webhook_secret
from tests.hospitals.api_helpers import hospital_client, issue_key, key_client
from tests.integration.receiver import Receiver

from .notice_helpers import hospital, release, with_endpoint

pytestmark = pytest.mark.django_db

PRODUCTION_NETWORKS = override_settings(WEBHOOK_ALLOWED_NETWORKS=[])

# The four URLs of the report, then the other spellings and ranges the rule names.
NOT_PUBLIC = [
    "https://169.254.169.254/",
    "https://10.0.0.5:6379/",
    "https://127.0.0.1/",
    "https://0x7f000001/",
    "https://2130706433/",
    "https://127.1/",
    "https://0177.0.0.1/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:a9fe:a9fe]/",
    "https://[::1]/",
    "https://localhost/",
    "https://172.16.3.4/",
    "https://192.168.1.10/",
    "https://100.64.0.1/",
    "https://[fc00::1]/",
    "https://[fd12:3456::1]/",
    "https://[fe80::1]/",
    "https://224.0.0.1/",
    "https://[ff02::1]/",
    "https://0.0.0.0/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    "https://192.0.2.7/",
    "https://[64:ff9b::a00:5]/",
    "https://[2002:a00:5::1]/",
]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names this sandbox cannot resolve, answered from a table (everything else resolves for real)."""
    table: dict[str, list[str]] = {}
    real = addresses.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in table:
            out = []
            for a in table[host]:
                family = socket.AF_INET6 if ":" in a else socket.AF_INET
                out.append((family, socket.SOCK_STREAM, 6, "", (a, port)))
            return out
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(addresses, "getaddrinfo", resolve)
    return table


def _register(url: str) -> Any:
    _, _, client = hospital_client()
    return client.post("/api/v1/webhooks/endpoints/", {"url": url}, format="json")


@PRODUCTION_NETWORKS
@pytest.mark.parametrize("url", NOT_PUBLIC)
def test_registering_a_non_public_webhook_url_is_refused_with_webhook_url_not_public(url):
    response = _register(url)
    body = response.json()
    assert (response.status_code, body["code"], body["errors"][0]["code"]) == (400, "validation_error", "webhook_url_not_public")
    assert not WebhookEndpoint.objects.exists()


@PRODUCTION_NETWORKS
def test_a_dns_name_resolving_to_a_private_address_is_refused(fake_dns):
    fake_dns["hooks.attacker.example"] = ["10.0.0.5"]
    assert _register("https://hooks.attacker.example/hook").json()["errors"][0]["code"] == "webhook_url_not_public"


@PRODUCTION_NETWORKS
def test_a_name_with_one_public_and_one_private_address_is_refused(fake_dns):
    fake_dns["mixed.example"] = ["93.184.216.34", "192.168.0.8"]
    assert _register("https://mixed.example/hook").json()["errors"][0]["code"] == "webhook_url_not_public"


@PRODUCTION_NETWORKS
def test_a_public_address_is_accepted():
    assert _register("https://93.184.216.34/hook").status_code == 201


@PRODUCTION_NETWORKS
def test_a_name_that_does_not_resolve_yet_is_accepted_and_judged_at_send_time():
    assert _register("https://his.example.org/hook").status_code == 201


@pytest.mark.parametrize("url", ["http://[0]", "https://[::1/hook", "https://[zz::1]/hook", "https://example.org:99999/hook"])
def test_a_malformed_url_is_refused_with_invalid_url_not_a_server_error(url):
    # schemathesis found "http://[0]": urlsplit raised outside the check and the answer was 500.
    response = _register(url)
    body = response.json()
    assert (response.status_code, body["code"], body["errors"][0]["code"]) == (400, "validation_error", "invalid_url")
    assert not WebhookEndpoint.objects.exists()


def test_the_allowed_networks_setting_lets_loopback_through_in_test_settings():
    assert _register("http://127.0.0.1:9/hook").status_code == 201


@PRODUCTION_NETWORKS
def test_register_hospital_refuses_a_non_public_webhook_url_and_registers_nothing():
    with pytest.raises(CommandError, match="webhook_url_not_public"):
        call_command("register_hospital", "H31010100009", name="医院", province="310000", webhook_url="https://169.254.169.254/latest")
    assert not Hospital.objects.filter(code="H31010100009").exists()


@PRODUCTION_NETWORKS
def test_admin_add_of_a_non_public_webhook_url_is_refused(admin_client):
    h = hospital(1)
    response = admin_client.post(
        "/admin/notices/webhookendpoint/add/", {"hospital": h.pk, "url": "https://10.0.0.5:6379/", "event_types": "[]"}, follow=True
    )
    assert any("not a public address" in str(m) for m in response.context["messages"])
    assert not WebhookEndpoint.objects.exists()


@PRODUCTION_NETWORKS
def test_changing_an_endpoint_url_to_a_non_public_one_is_refused():
    h, _, client = hospital_client()
    endpoint, _ = with_endpoint(h, "https://93.184.216.34/hook")
    response = client.patch(f"/api/v1/webhooks/endpoints/{endpoint.pk}/", {"url": "https://0x7f000001/"}, format="json")
    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "webhook_url_not_public")
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == "https://93.184.216.34/hook"


# --- at send time ----------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _pending_delivery(receiver: Receiver, catalog_admin: Any, reviewer: Any, *, url: str | None = None) -> tuple[Hospital, int]:
    h = hospital(1)
    _, secret = with_endpoint(h, url or receiver.url("hook"))
    receiver.expect("hook", secret)
    release(1, admin=catalog_admin, reviewer=reviewer)
    return h, NoticeDelivery.objects.get().pk


def test_an_endpoint_registered_while_allowed_is_not_called_once_its_address_is_not(receiver, catalog_admin, reviewer):
    _, delivery_id = _pending_delivery(receiver, catalog_admin, reviewer)
    with PRODUCTION_NETWORKS:
        delivery.deliver([delivery_id])
    attempt = DeliveryAttempt.objects.get()
    assert receiver.received == []
    assert (attempt.status_code, attempt.error_code) == (None, "connection_failed")
    assert "not a public address" in attempt.error


def test_a_dns_answer_that_changes_to_a_private_address_after_registration_is_not_called(receiver, catalog_admin, reviewer, fake_dns):
    fake_dns["his-rebind.example"] = ["127.0.0.1"]  # allowed in test settings when registered
    port = receiver.server.server_address[1]
    _, delivery_id = _pending_delivery(receiver, catalog_admin, reviewer, url=f"http://his-rebind.example:{port}/hook")
    fake_dns["his-rebind.example"] = ["10.0.0.5"]
    delivery.deliver([delivery_id])
    attempt = DeliveryAttempt.objects.get()
    assert receiver.received == []
    assert (attempt.error_code, "10.0.0.5 is private" in attempt.error) == ("connection_failed", True)


def test_the_connection_goes_to_the_address_that_was_checked(receiver, catalog_admin, reviewer, fake_dns):
    # libcurl cannot resolve this name itself: the POST arrives only because it is pinned to the
    # address the check resolved (127.0.0.1, allowed in test settings).
    fake_dns["his-pinned.example"] = ["127.0.0.1"]
    port = receiver.server.server_address[1]
    _, delivery_id = _pending_delivery(receiver, catalog_admin, reviewer, url=f"http://his-pinned.example:{port}/hook")
    assert delivery.deliver([delivery_id])["delivered"] == 1
    assert [r.verified for r in receiver.received] == [True]


def test_a_redirect_is_an_answer_not_a_new_target(receiver):
    other = Receiver().start()
    try:
        secret = new_webhook_secret()
        receiver.expect("hook", secret)
        receiver.script("hook", (307, {"Location": other.url("internal")}))
        headers = transport.Signer().headers(
            secrets=[secret], msg_id="msg_r", timestamp=transport.signing_timestamp(timezone.now()), body="{}"
        )
        req = transport.WebhookRequest(1, 1, receiver.url("hook"), headers, b"{}")
        (outcome,) = transport.send([req], concurrency=1, timeout=5)
    finally:
        other.stop()
    assert (outcome.status, outcome.error_code, other.received) == (307, "http_307", [])


class _Flood:
    """Answers 200 with a 10 MB Content-Length, sends 64 KiB, then stalls."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(200)
                self.send_header("content-length", str(10 * 1024 * 1024))
                self.end_headers()
                self.wfile.write(b"x" * 64 * 1024)
                self.wfile.flush()
                time.sleep(8)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_an_answer_longer_than_the_read_cap_is_cut_not_waited_for():
    flood = _Flood()
    try:
        req = transport.WebhookRequest(1, 1, f"http://127.0.0.1:{flood.server.server_address[1]}/hook", {"webhook-id": "msg_f"}, b"{}")
        started = time.monotonic()
        (outcome,) = transport.send([req], concurrency=1, timeout=6)
        elapsed = time.monotonic() - started
    finally:
        flood.server.shutdown()
        flood.server.server_close()
    assert (outcome.status, len(outcome.excerpt)) == (200, transport.EXCERPT_BYTES)
    assert elapsed < 3, f"waited {elapsed:.1f} s for a body it does not need"


def test_a_proxy_in_the_environment_is_not_used(receiver, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    transport.WebhookClient._current = None  # a fresh client reads the environment now
    req = transport.WebhookRequest(1, 1, receiver.url("open"), {"webhook-id": "msg_p"}, b"{}")
    (outcome,) = transport.send([req], concurrency=1, timeout=5)
    assert outcome.status == 401  # the receiver answered (unsigned): no proxy in between


# --- what hospitals and staff are told -------------------------------------------------------


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/hook"


def test_hospitals_see_a_coarse_delivery_error_and_never_transport_text(catalog_admin, reviewer):
    h = hospital(1)
    with_endpoint(h, _closed_port_url())
    release(1, admin=catalog_admin, reviewer=reviewer)
    delivery.deliver([NoticeDelivery.objects.get().pk])
    response = key_client(issue_key(h)).get("/api/v1/notices/deliveries/")
    (row,) = response.json()["results"]
    assert row["last_error"] == "connection_failed"
    assert "curl" not in response.content.decode() and "refused" not in response.content.decode().lower()


def test_staff_see_the_full_delivery_error(catalog_admin, reviewer, api):
    h = hospital(1)
    with_endpoint(h, _closed_port_url())
    release(1, admin=catalog_admin, reviewer=reviewer)
    delivery.deliver([NoticeDelivery.objects.get().pk])
    (row,) = api(catalog_admin).get("/api/v1/notices/deliveries/").json()["results"]
    assert (row["last_error"], row["last_error_detail"][:12]) == ("connection_failed", "curl error 7")


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("169.254.169.254", "link_local"),
        ("100.64.0.1", "shared"),
        ("239.1.1.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:10.0.0.1", "private"),
        ("fe80::1", "link_local"),
        ("93.184.216.34", ""),
        ("2606:2800:220:1:248:1893:25c8:1946", ""),
    ],
)
def test_each_range_is_named_for_staff(address, reason):
    import ipaddress

    assert addresses.refusal_reason(ipaddress.ip_address(address)) == reason


def test_a_refused_address_is_retried_like_a_failed_connection(receiver, catalog_admin, reviewer):
    _, delivery_id = _pending_delivery(receiver, catalog_admin, reviewer)
    with PRODUCTION_NETWORKS:
        delivery.deliver([delivery_id])
    d = NoticeDelivery.objects.get(pk=delivery_id)
    assert (d.state, d.last_error_code, d.lease_until, d.next_attempt_at > timezone.now()) == ("pending", "connection_failed", None, True)
