"""A stand-in for an affiliate's tracker: prints every postback it receives and answers 200 OK."""

import signal
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.core.management.base import BaseCommand, OutputWrapper

MAX_BODY_BYTES = 64 * 1024


def describe(method: str, target: str, body: bytes, content_type: str) -> list[str]:
    """The lines printed for one request: method and path, then each param decoded, then body."""
    parts = urlsplit(target)
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    lines = [f"[{stamp}] postback received: {method} {parts.path}"]
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        lines.append(f"    query {name} = {value!r}")
    if body:
        text = body.decode("utf-8", errors="replace")
        if content_type.startswith("application/x-www-form-urlencoded"):
            for name, value in parse_qsl(text, keep_blank_values=True):
                lines.append(f"    form  {name} = {value!r}")
        else:
            lines.append(f"    body  {text!r}")
    return lines


def make_server(host: str, port: int, out: OutputWrapper) -> ThreadingHTTPServer:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "DemoReceiver/1.0"

        def _serve(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
            body = self.rfile.read(length) if length > 0 else b""
            content_type = self.headers.get("Content-Type", "")
            with lock:
                for line in describe(self.command, self.path, body, content_type):
                    out.write(line)
                out.flush()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", "2")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(b"OK")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return  # describe() prints each request; the default access log would repeat it.

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


class Command(BaseCommand):
    help = (
        "Run a tiny HTTP server that prints every postback it receives (method, path, decoded "
        "query and body) and answers 200 OK. The demo endpoints of load_demo_data point at it. "
        "Stops on Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)

    def handle(self, *args: Any, **options: Any) -> None:
        server = make_server(options["host"], options["port"], self.stdout)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        thread = threading.Thread(target=server.serve_forever, name="demo-receiver", daemon=True)
        thread.start()
        self.stdout.write(
            f"demo receiver listening on http://{options['host']}:{server.server_port}/ "
            "(Ctrl-C stops it)"
        )
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
        self.stdout.write("demo receiver stopped")
