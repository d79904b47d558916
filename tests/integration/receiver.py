"""A real HTTP receiver on 127.0.0.1 for webhook tests: verifies every request with the
standardwebhooks library, records what arrived, and can be told to fail, delay or answer 410."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    webhook_id: str
    verified: bool
    at: float
    body: dict[str, Any] | None
    status: int


@dataclass
class Receiver:
    secrets: dict[str, list[str]] = field(default_factory=dict)  # path -> secrets that verify
    scripts: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=lambda: defaultdict(list))
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def expect(self, path: str, secret: str, *more: str) -> str:
        self.secrets["/" + path.lstrip("/")] = [secret, *more]
        return self.url(path)

    def script(self, path: str, *responses: int | tuple[int, dict[str, str]]) -> None:
        """The next requests to ``path`` get these statuses (then 200)."""
        for r in responses:
            self.scripts["/" + path.lstrip("/")].append(r if isinstance(r, tuple) else (r, {}))

    def ok_ids(self) -> set[str]:
        with self.lock:
            return {r.webhook_id for r in self.received if r.verified and 200 <= r.status < 300}

    def for_path(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == "/" + path.lstrip("/")]

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str]]:
        if self.delay:
            time.sleep(self.delay)
        verified, body = False, None
        for secret in self.secrets.get(path, []):
            try:
                body = Webhook(secret).verify(raw, headers)
                verified = True
                break
            except WebhookVerificationError:
                continue
        with self.lock:
            script = self.scripts.get(path)
            status, extra = script.pop(0) if script else (200, {})
            if not verified:
                status, extra = 401, {}
            self.received.append(Received(path, headers.get("webhook-id", ""), verified, time.time(), body, status))
        return status, extra

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                status, extra = receiver.handle(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                payload = json.dumps({"status": status}).encode()
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.daemon_threads = True
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.request_queue_size = 256
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
