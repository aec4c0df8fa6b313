"""What `make web` runs: it listens where the operator says, loopback unless told."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _web_command(*assignments: str) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", "-n", "web", *assignments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]


def test_make_web_listens_on_loopback_by_default() -> None:
    assert "--bind 127.0.0.1:8000 " in _web_command()


def test_make_web_binds_where_web_bind_says() -> None:
    assert "--bind 0.0.0.0:9000 " in _web_command("WEB_BIND=0.0.0.0", "PORT=9000")


def test_make_web_collects_the_static_files_before_it_serves() -> None:
    lines = subprocess.run(
        ["make", "--no-print-directory", "-n", "web"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    collect = next(i for i, line in enumerate(lines) if "manage.py collectstatic" in line)
    serve = next(i for i, line in enumerate(lines) if "gunicorn" in line)
    assert collect < serve


def test_ctrl_c_stops_make_run_cleanly(tmp_path: Path) -> None:
    """Ctrl-C is how a person stops `make run`: run.sh ends with 0, so make prints no error."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", 8001)) == 0:
            pytest.skip("port 8001 (the demo receiver's) is in use here")
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "run.log"
    # A fresh SQLite database: its migrations keep run.sh busy when Ctrl-C comes, and nothing
    # outside tmp_path is touched.
    env = {**os.environ, "PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    with log.open("w") as out:
        script = subprocess.Popen(
            [str(ROOT / "scripts" / "run.sh")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while "make run: Database:" not in log.read_text() and time.monotonic() < deadline:
            assert script.poll() is None, log.read_text()
            time.sleep(0.1)
        os.killpg(script.pid, signal.SIGINT)
        assert script.wait(timeout=60) == 0, log.read_text()
