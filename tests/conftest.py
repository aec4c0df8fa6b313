"""Shared fixtures: the real Redis (its own database), and real local HTTP receivers."""

import importlib
import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import django_rq
import pytest

from postbacks import lookups


@pytest.fixture(autouse=True, scope="session")
def _compiled_translations() -> None:
    """`make test` compiles the catalogues; a bare `pytest` gets them compiled here when a .po is
    newer than its .mo (or the .mo is missing), so the French pages are the .po's French."""
    from django.conf import settings

    for po in sorted(Path(settings.BASE_DIR, "locale").glob("*/LC_MESSAGES/django.po")):
        mo = po.with_suffix(".mo")
        if shutil.which("msgfmt") and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
            subprocess.run(["msgfmt", "--check", "-o", str(mo), str(po)], check=True)


@pytest.fixture(autouse=True)
def _event_types(request: pytest.FixtureRequest) -> None:
    """Transactional tests flush the database after each test, data migration included: put the
    four event types of docs/spec.md §1 back, as `migrate` leaves them."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    migration = importlib.import_module("postbacks.migrations.0002_event_types")
    migration.create_event_types(apps, None)


@pytest.fixture(autouse=True)
def _fresh_lookups() -> Iterator[None]:
    """Rows cached by ingest belong to the test that made them (each test's rows roll back)."""
    lookups.clear()
    yield
    lookups.clear()


@pytest.fixture(autouse=True)
def _clean_redis(settings: Any) -> Iterator[None]:
    """Each test starts with an empty queue (tests use their own Redis database)."""
    connection = django_rq.get_connection("postbacks")
    connection.flushdb()
    yield


@dataclass
class Received:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


Reply = (
    tuple[int, dict[str, str], bytes] | Callable[["Received"], tuple[int, dict[str, str], bytes]]
)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records what it receives and answers from a script."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    default: Reply = (200, {}, b"OK")
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def reply(self, request: Received) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            planned = self.replies.pop(0) if self.replies else self.default
        return planned(request) if callable(planned) else planned

    def record(self, request: Received) -> None:
        with self.arrived:
            self.received.append(request)
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)


def _handler(receiver_ref: list[Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Received(self.command, self.path, body, dict(self.headers.items()))
            receiver = receiver_ref[0]
            status, headers, payload = receiver.reply(request)
            receiver.record(request)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    ref: list[Receiver] = []
    # A worker opens dozens of connections at once: the default listen backlog (5) refuses some.
    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    server.daemon_threads = True
    rec = Receiver(server=server)
    ref.append(rec)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


def json_reply(status: int, payload: object) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()
