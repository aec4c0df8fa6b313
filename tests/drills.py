"""Child processes for the drills (tests marked `slow`): a free port, an environment that points a
child at this test's database and Redis, waiting for a condition, and stopping a child."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable

from django.db import connection


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(redis_url: str, **extra: str) -> dict[str, str]:
    """This process's environment for a child that must see what the test sees: the test
    settings, pytest-django's test database (not the one DATABASE_URL names), `redis_url`."""
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=redis_url,
        **extra,
    )
    return env


def wait_until(
    predicate: Callable[[], object],
    timeout: float,
    what: str,
    explain: Callable[[], str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f"; {explain()}" if explain else ""))


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if the child has not gone 20 s later."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
