"""Fail at once, saying which service is missing and how to start it, before the test suite runs."""

import os
import socket
import sys
from urllib.parse import urlparse

CHECKS = [
    (
        "PostgreSQL",
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postback_portal"),
        5432,
        "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start "
        "(or point DATABASE_URL at one)",
    ),
    (
        "Redis",
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        6379,
        'start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" '
        "--appendonly no (or point REDIS_URL at one)",
    ),
]


def main() -> int:
    failed = False
    for name, url, default_port, how in CHECKS:
        parsed = urlparse(url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError as exc:
            print(
                f"make test: {name} does not answer at {host}:{port} ({exc}); {how}",
                file=sys.stderr,
            )
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
