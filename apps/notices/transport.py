"""Transport: sign a webhook request (Standard Webhooks) and POST it through the process's
keep-alive libcurl client, to the address the SSRF guard checked. What an outcome means for a
delivery (retry, give up, disable the endpoint) is ``delivery``'s business, not this module's.

Each request's host is resolved and checked here, at send time (``addresses``), and libcurl is
told to connect to exactly that address (CURLOPT_CONNECT_TO): a DNS answer that changed since
registration, or changes between the check and the connect, cannot send the POST elsewhere.
No redirects are followed, no proxy from the environment is used, and at most
WEBHOOK_RESPONSE_MAX_BYTES of an answer are read.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import certifi
import pycurl
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from . import addresses, conf
from .models import DeliveryError

USER_AGENT = "catalog-portal-notices/1"
EXCERPT_BYTES = 500
_HEADER_CAP = 64 * 1024
_RESOLVER_THREADS = 16


@dataclass
class WebhookRequest:
    """One signed POST: the delivery it belongs to (0 for a test ping), where, headers, body."""

    delivery_id: int
    endpoint_id: int
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpOutcome:
    """What happened to one request. ``error`` is the full detail (staff only); ``error_code``
    the coarse kind a hospital may see: '' on 2xx, ``timeout``, ``connection_failed`` or
    ``http_<status>``."""

    delivery_id: int
    endpoint_id: int
    attempted_at: dt.datetime
    status: int | None
    latency_ms: int
    error: str = ""
    error_code: str = ""
    excerpt: str = ""
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# --- signing -------------------------------------------------------------------------------


class Signer:
    """Standard Webhooks signatures with one ``Webhook`` object per set of live secrets (a batch
    of 500 deliveries usually shares few), so the secrets are decoded once per batch."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, ...], list[Webhook]] = {}

    def headers(self, *, secrets: Iterable[str], msg_id: str, timestamp: dt.datetime, body: str) -> dict[str, str]:
        """The request headers: ``webhook-signature`` holds one ``v1,<base64>`` per live secret."""
        keys = tuple(s for s in secrets if s)
        if keys not in self._cache:
            self._cache[keys] = [Webhook(k) for k in keys]
        signature = " ".join(w.sign(msg_id, timestamp, body) for w in self._cache[keys])
        return {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signature,
        }


def signing_timestamp(now: dt.datetime) -> dt.datetime:
    """Whole seconds: the signed ``webhook-timestamp`` is an integer."""
    return dt.datetime.fromtimestamp(int(now.timestamp()), tz=dt.UTC)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return (when - now).total_seconds()


# --- where a request may go ------------------------------------------------------------------


def _pin(url: str) -> addresses.Target | str:
    """The checked target of ``url``, or the reason (for staff) that nothing may be sent."""
    try:
        target = addresses.check_url(url, require_resolvable=True)
    except addresses.AddressRefused as exc:
        return f"not sent: {exc}"
    except addresses.Unresolvable as exc:
        return f"not sent: could not resolve {exc}"
    except ValueError as exc:
        return f"not sent: {exc}"
    assert target is not None
    return target


def _pins(urls: Sequence[str]) -> dict[str, addresses.Target | str]:
    """Check every distinct host:port once per batch; names resolve in parallel (a batch of
    500 hospitals can mean 500 DNS look-ups, which would otherwise run one after another)."""
    origin_of: dict[str, tuple[str, int]] = {}  # each distinct URL is parsed once
    by_origin: dict[tuple[str, int], str] = {}
    for url in urls:
        if url not in origin_of:
            try:
                origin_of[url] = addresses.split_url(url)
            except ValueError:
                origin_of[url] = ("", 0)
            by_origin.setdefault(origin_of[url], url)
    origins = list(by_origin.items())
    if len(origins) > 1:
        with ThreadPoolExecutor(max_workers=min(_RESOLVER_THREADS, len(origins))) as pool:
            results = list(pool.map(lambda item: _pin(item[1]), origins))
    else:
        results = [_pin(url) for _, url in origins]
    pinned = dict(zip((origin for origin, _ in origins), results, strict=True))
    return {url: pinned[origin] for url, origin in origin_of.items()}


def _connect_to(target: addresses.Target) -> str:
    """A CURLOPT_CONNECT_TO entry that sends any host:port of this request to the checked
    address (TLS still verifies the URL's host name)."""
    address = f"[{target.address}]" if ":" in target.address else target.address
    return f"::{address}:{target.port}"


# --- the HTTP client -----------------------------------------------------------------------


class _Exchange:
    """One request in flight: its start, the first bytes of the answer, Retry-After, and whether
    the answer was cut at the read cap."""

    __slots__ = ("attempted_at", "body_bytes", "cap", "cut", "excerpt", "header_bytes", "req", "retry_after_header")

    def __init__(self, req: WebhookRequest, attempted_at: dt.datetime, cap: int) -> None:
        self.req = req
        self.attempted_at = attempted_at
        self.cap = cap
        self.excerpt = bytearray()
        self.body_bytes = 0
        self.header_bytes = 0
        self.cut = False
        self.retry_after_header: str | None = None

    def body(self, chunk: bytes) -> int | None:
        if len(self.excerpt) < EXCERPT_BYTES:
            self.excerpt += chunk[: EXCERPT_BYTES - len(self.excerpt)]
        self.body_bytes += len(chunk)
        if self.body_bytes > self.cap:
            self.cut = True
            return 0  # libcurl stops reading (CURLE_WRITE_ERROR); the status is already known
        return None

    def header(self, line: bytes) -> int | None:
        self.header_bytes += len(line)
        if self.header_bytes > _HEADER_CAP:
            return 0
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"retry-after":
            self.retry_after_header = value.strip().decode("latin-1")
        elif line.startswith(b"HTTP/"):  # a new response (after a 1xx): forget the previous one's headers
            self.retry_after_header = None
        return None

    def answered(self, status: int, latency_ms: int) -> HttpOutcome:
        return HttpOutcome(
            self.req.delivery_id,
            self.req.endpoint_id,
            self.attempted_at,
            status,
            latency_ms,
            error="" if 200 <= status < 300 else f"HTTP {status}",
            error_code="" if 200 <= status < 300 else f"http_{status}",
            excerpt=self.excerpt.decode("utf-8", "replace"),
            retry_after=parse_retry_after(self.retry_after_header, self.attempted_at),
        )

    def failed(self, errno: int, message: str, latency_ms: int) -> HttpOutcome:
        timeout = errno == pycurl.E_OPERATION_TIMEDOUT
        detail = "timeout" if timeout else f"curl error {errno}"
        return HttpOutcome(
            self.req.delivery_id,
            self.req.endpoint_id,
            self.attempted_at,
            None,
            latency_ms,
            error=f"{detail}: {message}"[:255],
            error_code=DeliveryError.TIMEOUT if timeout else DeliveryError.CONNECTION_FAILED,
        )


def _refused(req: WebhookRequest, reason: str) -> HttpOutcome:
    return HttpOutcome(req.delivery_id, req.endpoint_id, timezone.now(), None, 0, reason[:255], DeliveryError.CONNECTION_FAILED)


class WebhookClient:
    """The process's HTTP client for notices: one libcurl multi handle driving up to
    ``concurrency`` requests at once, kept across batches so a batch reuses the keep-alive
    connections of the one before (libcurl keeps them in the multi handle's connection cache;
    a connection is reused only for the same pinned address).

    libcurl (pycurl) rather than an asyncio client: the requests run in C, so one costs the
    worker about half the CPU of aiohttp's (benchmarks/fanout.py), and the CPU of the worker
    processes is what a 10,000-hospital publish waits for. Re-created after a fork (prefork
    workers) or when the concurrency setting changes; one batch at a time per process."""

    _lock = threading.Lock()
    _current: WebhookClient | None = None

    def __init__(self, concurrency: int) -> None:
        self.pid = os.getpid()
        self.concurrency = concurrency
        self.multi = pycurl.CurlMulti()
        self.multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, concurrency)
        self._busy = threading.Lock()  # one batch at a time on this multi handle
        self.idle = [self._handle() for _ in range(concurrency)]

    @staticmethod
    def _handle() -> Any:
        handle = pycurl.Curl()
        handle.setopt(pycurl.NOSIGNAL, 1)  # timeouts without SIGALRM (worker threads)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)  # a redirect is an answer, not a new target
        handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        handle.setopt(pycurl.PROXY, "")  # never an http(s)_proxy from the environment: the pin must hold
        handle.setopt(pycurl.CAINFO, certifi.where())
        handle.setopt(pycurl.USERAGENT, USER_AGENT)
        handle.setopt(pycurl.POST, 1)
        return handle

    def _start(self, handle: Any, req: WebhookRequest, target: addresses.Target, timeout: float, cap: int) -> None:
        exchange = _Exchange(req, timezone.now(), cap)
        handle.setopt(pycurl.URL, req.url)
        handle.setopt(pycurl.CONNECT_TO, [_connect_to(target)])
        handle.setopt(pycurl.POSTFIELDS, req.body)
        # "Expect:" stops libcurl from waiting for a 100 Continue before sending a body over 1 KiB.
        handle.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in req.headers.items() if k != "user-agent"] + ["Expect:"])
        handle.setopt(pycurl.WRITEFUNCTION, exchange.body)
        handle.setopt(pycurl.HEADERFUNCTION, exchange.header)
        handle.setopt(pycurl.TIMEOUT_MS, max(int(timeout * 1000), 1))
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, max(int(min(timeout, 5.0) * 1000), 1))
        handle.exchange = exchange
        self.multi.add_handle(handle)

    def _settle_failed(self, handle: Any, errno: int, message: str) -> HttpOutcome:
        exchange: _Exchange = handle.exchange
        status = int(handle.getinfo(pycurl.RESPONSE_CODE) or 0)
        if exchange.cut and errno == pycurl.E_WRITE_ERROR and status:
            return exchange.answered(status, _ms_of(handle))  # an answer we stopped reading
        return exchange.failed(errno, message, _ms_of(handle))

    def send(self, requests: Sequence[WebhookRequest], *, timeout: float) -> list[HttpOutcome]:
        outcomes: dict[int, HttpOutcome] = {}
        pins = _pins([r.url for r in requests])
        cap = conf.response_cap()
        waiting: list[int] = []
        for index in reversed(range(len(requests))):
            pin = pins[requests[index].url]
            if isinstance(pin, str):
                outcomes[index] = _refused(requests[index], pin)
            else:
                waiting.append(index)
        running: list[Any] = []

        def finish(handle: Any, outcome: HttpOutcome) -> None:
            self.multi.remove_handle(handle)
            running.remove(handle)
            self.idle.append(handle)
            outcomes[handle.index] = outcome

        with self._busy:
            try:
                while waiting or running:
                    while waiting and self.idle:
                        handle = self.idle.pop()
                        index = waiting.pop()
                        target = pins[requests[index].url]
                        assert isinstance(target, addresses.Target)
                        self._start(handle, requests[index], target, timeout, cap)
                        handle.index = index
                        running.append(handle)
                    while self.multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                        pass
                    while True:
                        queued, succeeded, failed = self.multi.info_read()
                        for handle in succeeded:
                            finish(handle, handle.exchange.answered(handle.getinfo(pycurl.RESPONSE_CODE), _ms_of(handle)))
                        for handle, errno, message in failed:
                            finish(handle, self._settle_failed(handle, errno, message))
                        if not queued:
                            break
                    if running:
                        # Wait for a socket, but no longer than libcurl's next timer (-1: none set).
                        due_ms = self.multi.timeout()
                        self.multi.select(0.5 if due_ms < 0 else min(due_ms / 1000, 0.5))
            finally:
                for handle in running:  # an exception mid-batch: leave the multi handle clean
                    self.multi.remove_handle(handle)
                    self.idle.append(handle)
        return [outcomes[i] for i in range(len(requests))]

    @classmethod
    def get(cls, concurrency: int) -> WebhookClient:
        with cls._lock:
            client = cls._current
            if client is None or client.pid != os.getpid() or client.concurrency != concurrency:
                client = cls._current = cls(concurrency)
            return client


def _ms_of(handle: Any) -> int:
    return int(handle.getinfo(pycurl.TOTAL_TIME) * 1000)


def send(requests: Sequence[WebhookRequest], *, concurrency: int, timeout: float) -> list[HttpOutcome]:
    """POST the requests (at most ``concurrency`` in flight) through the process's persistent
    client (see ``WebhookClient``), each to its checked address; one outcome per request, in order."""
    if not requests:
        return []
    return WebhookClient.get(concurrency).send(requests, timeout=timeout)


__all__ = ["HttpOutcome", "Signer", "WebhookRequest", "send", "signing_timestamp"]
