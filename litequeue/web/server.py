"""The dashboard's HTTP server: the standard library's ThreadingHTTPServer serving the page, its
assets (shipped in the package: no CDN, no build step), the JSON API, server-sent events and
``/metrics``.

Safety: it binds 127.0.0.1 unless told otherwise, and any other bind must be given a token or
basic-auth credentials. Actions are POSTs that must carry the ``X-Litequeue-Action`` header (a
page on another site cannot send it without the server's consent, so no cross-site request can
act), and ``read_only`` refuses them all.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import mimetypes
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ..errors import ConfigurationError, LiteQueueError
from . import api
from .metrics import CONTENT_TYPE, Metrics

if TYPE_CHECKING:
    from ..app import LiteQueue

log = logging.getLogger("litequeue.web")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
ACTION_HEADER = "X-Litequeue-Action"
COOKIE = "litequeue_token"
EVENT_INTERVAL = 2.0  # seconds between live updates
STATIC = resources.files(__package__) / "static"


@dataclass(frozen=True)
class Access:
    """Who may use the dashboard: a token (header, cookie or ``?token=``), basic-auth
    credentials (``user:password``), both, or neither (loopback only); and whether actions are
    allowed."""

    token: str | None = None
    basic_auth: str | None = None
    read_only: bool = False

    def check_bind(self, host: str) -> None:
        if host not in LOOPBACK and not (self.token or self.basic_auth):
            raise ConfigurationError(
                f"The dashboard would listen on {host} with no password: give --token or --basic-auth "
                "user:password, or keep the default --host 127.0.0.1.")

    @property
    def open(self) -> bool:
        return not (self.token or self.basic_auth)


class Dashboard(ThreadingHTTPServer):
    """The server: one thread per connection (server-sent events hold theirs open)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: LiteQueue, host: str = "127.0.0.1", port: int = 5555, access: Access = Access(),
                 event_interval: float = EVENT_INTERVAL) -> None:
        access.check_bind(host)
        self.app, self.access, self.event_interval = app, access, event_interval
        self.metrics = Metrics(app)
        self.stopping = threading.Event()
        super().__init__((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def shutdown(self) -> None:
        self.stopping.set()  # ends the event streams
        super().shutdown()


class Handler(BaseHTTPRequestHandler):
    server: Dashboard
    protocol_version = "HTTP/1.1"
    server_version = "litequeue-dashboard"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # -- dispatch ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        try:
            if not self._allowed(query):
                return
            if method == "GET" and not url.path.startswith("/api/") and url.path != "/metrics":
                self._static(url.path)
            elif url.path == "/metrics" and method == "GET":
                self._send(200, self.server.metrics.render(), CONTENT_TYPE)
            elif url.path == "/api/events" and method == "GET":
                self._events()
            else:
                self._api(method, url.path, query)
        except api.ApiError as exc:
            self._json(exc.status, {"error": exc.message})
        except LiteQueueError as exc:
            self._json(503, {"error": exc.message})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:  # a bug: logged with its traceback, reported without it
            log.exception("dashboard request %s %s failed", method, self.path)
            self._json(500, {"error": "Internal error; the dashboard's log has the details."})

    def _api(self, method: str, path: str, query: dict[str, str]) -> None:
        found, params = api.find(method, path)
        if found.action:
            if self.server.access.read_only:
                raise api.ApiError(403, "The dashboard is read-only (--read-only): actions are off.")
            if self.headers.get(ACTION_HEADER) != "1":
                raise api.ApiError(403, f"Actions must carry the {ACTION_HEADER}: 1 header.")
        data = found.handler(self.server.app, query, **params)
        if found.handler is api.info:
            data["read_only"] = self.server.access.read_only
        elif found.handler in (api.queues, api.overview):
            self._add_throughput(data if found.handler is api.queues else data["queues"])
        self._json(200, data)

    def _add_throughput(self, queues: list[dict[str, Any]]) -> None:
        """Each queue's jobs finished in the last minute, counted from the finished jobs this
        server reads as they come (the done_at index; the same stream /metrics counts)."""
        tally = self.server.metrics.tally
        tally.catch_up()
        done = tally.done_last_minute()
        for queue in queues:
            queue["done_last_minute"] = done.get(queue["queue"], 0)

    # -- authentication ------------------------------------------------------------------------

    def _allowed(self, query: dict[str, str]) -> bool:
        access = self.server.access
        if access.open:
            return True
        if access.token:
            given = self._given_token(query)
            if given is not None and hmac.compare_digest(given, access.token):
                if query.get("token"):  # from a link: keep it in a cookie, drop it from the address
                    self.send_response(303)
                    self.send_header("Location", urlsplit(self.path).path or "/")
                    self.send_header("Set-Cookie", f"{COOKIE}={access.token}; HttpOnly; SameSite=Strict; Path=/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return False
                return True
        if access.basic_auth and self._basic_auth_ok(access.basic_auth):
            return True
        body = json.dumps({"error": "Log in: open the address with ?token=TOKEN, send 'Authorization: Bearer "
                                    "TOKEN', or basic-auth credentials."}).encode()
        self.send_response(401)
        if access.basic_auth:
            self.send_header("WWW-Authenticate", 'Basic realm="litequeue"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return False

    def _given_token(self, query: dict[str, str]) -> str | None:
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[7:].strip()
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        if COOKIE in cookie:
            return cookie[COOKIE].value
        return query.get("token")

    def _basic_auth_ok(self, expected: str) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(given, expected)

    # -- answers -------------------------------------------------------------------------------

    def _static(self, path: str) -> None:
        name = "index.html" if path in ("/", "") or not path.startswith("/static/") else path[len("/static/"):]
        if "/" in name or name.startswith("."):
            raise api.ApiError(404, f"No such file: {path}.")
        asset = STATIC / name
        if not asset.is_file():
            raise api.ApiError(404, f"No such file: {path}.")
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self._send(200, asset.read_bytes(), kind + ("; charset=utf-8" if kind.startswith("text/") or
                                                     kind.endswith("javascript") else ""))

    def _events(self) -> None:
        """Server-sent events: an ``overview`` event (queues and workers) now and every
        ``event_interval`` seconds, until the client goes or the server stops."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        server = self.server
        while not server.stopping.is_set():
            started = time.monotonic()
            overview = api.overview(server.app, {})
            self._add_throughput(overview["queues"])
            data = json.dumps(overview)
            self.wfile.write(f"event: overview\ndata: {data}\n\n".encode())
            self.wfile.flush()
            server.stopping.wait(max(server.event_interval - (time.monotonic() - started), 0.05))

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
        self.end_headers()
        self.wfile.write(body)


def serve(app: LiteQueue, host: str = "127.0.0.1", port: int = 5555, access: Access = Access()) -> None:
    """Run the dashboard until interrupted (Ctrl-C)."""
    server = Dashboard(app, host, port, access)
    log.warning("litequeue dashboard on %s%s", server.url, " (read-only)" if access.read_only else "")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping.set()
        server.server_close()
